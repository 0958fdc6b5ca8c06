"""The supervisor's store duties on their own, with a fake of the service they serve (the
``JobControl`` protocol) and a link that runs each submitted operation only when the test says
so, against a real queue: what the duties ask of the store and of the service, and when."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from sccli.domain import JobStatus
from sccli.queue import JobQueue
from sccli.service.duties import ServiceCard, StoreDuties
from sccli.service.running import RunningJob
from sccli.service.storelink import Op
from sccli.settings import Settings
from tests.conftest import add_dataset

TYPE = "data_validation"


class FakeLink:
    """The store link's main-thread side: operations wait until :meth:`run` runs them on ``queue``."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue, self.waiting, self.ran = queue, [], []
        self.recovered, self.pending_durable = False, 0

    def submit(self, op: Op) -> None:
        self.waiting.append(op)

    def up_for(self) -> float:
        return 3600.0

    def names(self) -> list[str]:
        return [op.name for op in self.waiting]

    def run(self, name: str) -> Op:
        """Run the waiting operation ``name`` (store thread's part); its result comes back at the next take."""
        op = next(op for op in self.waiting if op.name == name)
        self.waiting.remove(op)
        try:
            op.result = op.fn(self.queue)
        except Exception as exc:  # noqa: BLE001 - handed back as the store link does
            op.error = exc
        self.ran.append(op)
        return op

    def results(self) -> list[Op]:
        out, self.ran = self.ran, []
        return out


class FakeService:
    """A fake of the supervisor as the duties see it (``sccli.service.duties.JobControl``): records
    what the duties ask of it."""

    def __init__(self) -> None:
        self.jobs: dict[str, RunningJob] = {}
        self.stop_requested = False
        self.status = "running"
        self.started: list[dict[str, Any]] = []
        self.stopped: list[tuple[str, str]] = []
        self.stop_requests = 0

    def start_job(self, job: dict[str, Any], memory_limit_mb: int | None = None) -> None:
        self.started.append(job)
        limit = None if memory_limit_mb is None else memory_limit_mb * 1024 * 1024
        self.jobs[job["job_id"]] = RunningJob(job=job, started=time.monotonic(), memory_limit=limit)

    def stop_job(self, rj: RunningJob, reason: str) -> None:
        self.stopped.append((rj.job_id, reason))

    def request_stop(self) -> None:
        self.stop_requests += 1
        self.stop_requested = True


def _duties(
    queue: JobQueue, *, workers: int = 1, until_idle: bool = False
) -> tuple[StoreDuties, FakeLink, FakeService]:
    link, service = FakeLink(queue), FakeService()
    card = ServiceCard("w-test", "host", 4242, "worker:host:4242", datetime.now(UTC), [TYPE], 9)
    settings = Settings(workers=workers, poll_interval_seconds=0.05, heartbeat_seconds=0.2, types=[TYPE])
    duties = StoreDuties(link, settings, service, card, until_idle=until_idle)
    return duties, link, service


def _job(queue: JobQueue) -> str:
    return queue.create_job(add_dataset(queue.store), TYPE, allow_duplicate=True)


@pytest.fixture
def sqlite_queue(sqlite_spec: Any) -> JobQueue:
    return JobQueue(sqlite_spec.open(), actor="cli:test@host", retry_base_seconds=0.0, retry_max_seconds=0.0)


def test_a_claimed_job_is_started_and_the_next_claim_follows_at_once(sqlite_queue: JobQueue) -> None:
    job_id = _job(sqlite_queue)
    duties, link, service = _duties(sqlite_queue, workers=2)
    now = time.monotonic()
    duties.schedule(now)
    assert "claim" in link.names() and duties.claiming
    duties.schedule(now + 1)
    assert link.names().count("claim") == 1  # never two claims in flight
    link.run("claim")
    duties.take_results()
    assert [j["job_id"] for j in service.started] == [job_id] and not duties.claiming
    assert sqlite_queue.require_job(job_id)["worker_id"] == "w-test"
    assert duties.next["claim"] <= time.monotonic()  # a slot is free: claim again now, not at the next poll


def test_no_claim_without_a_free_slot_or_while_stopping(sqlite_queue: JobQueue) -> None:
    _job(sqlite_queue)
    duties, link, service = _duties(sqlite_queue, workers=1)
    service.jobs["x"] = RunningJob(job={"job_id": "x", "job_type": TYPE, "lease_token": "t"}, started=0.0)
    duties.schedule(time.monotonic())
    assert "claim" not in link.names()
    assert all(at != duties.next["claim"] for at in duties.wake_at())  # nothing to wake up for
    service.jobs.clear()
    service.stop_requested = True
    duties.schedule(time.monotonic())
    assert "claim" not in link.names()


def test_a_job_claimed_while_the_service_drains_is_released_not_started(sqlite_queue: JobQueue) -> None:
    job_id = _job(sqlite_queue)
    duties, link, service = _duties(sqlite_queue)
    duties.schedule(time.monotonic())
    service.stop_requested = True  # the drain began while the claim was in flight
    link.run("claim")
    duties.take_results()
    assert service.started == []
    release = link.waiting[-1]
    assert release.name == f"record:{job_id}" and release.durable
    link.run(release.name)
    assert sqlite_queue.require_job(job_id)["status"] == JobStatus.PENDING


def test_a_heartbeat_that_finds_the_lease_lost_stops_that_job_only(sqlite_queue: JobQueue) -> None:
    lost_id, kept_id = _job(sqlite_queue), _job(sqlite_queue)
    duties, link, service = _duties(sqlite_queue, workers=2)
    for _ in range(2):
        service.start_job(sqlite_queue.claim_next("w-test", [TYPE]) or {})
    sqlite_queue.release(lost_id, service.jobs[lost_id].token, reason="taken away")  # the lease is lost
    service.status = "draining"
    duties.schedule(time.monotonic())
    link.run("beat")
    duties.take_results()
    assert service.stopped == [(lost_id, "lease_lost")]
    assert service.jobs[lost_id].lease_lost and not service.jobs[kept_id].lease_lost
    worker = next(w for w in sqlite_queue.store.list_workers() if w["worker_id"] == "w-test")
    assert worker["status"] == "draining" and sorted(worker["running_jobs"]) == sorted([lost_id, kept_id])


def test_the_cancel_poll_stops_a_cancelled_job(sqlite_queue: JobQueue) -> None:
    job_id = _job(sqlite_queue)
    duties, link, service = _duties(sqlite_queue)
    service.start_job(sqlite_queue.claim_next("w-test", [TYPE]) or {})
    duties.schedule(time.monotonic())
    link.run("cancel")
    duties.take_results()
    assert service.stopped == []  # not asked yet
    sqlite_queue.cancel(job_id, reason="asked")
    duties.next["cancel"] = 0.0
    duties.schedule(time.monotonic())
    link.run("cancel")
    duties.take_results()
    assert service.stopped == [(job_id, "cancel")]


def test_until_idle_stops_the_service_only_when_nothing_is_left(sqlite_queue: JobQueue) -> None:
    duties, link, service = _duties(sqlite_queue, until_idle=True)
    duties.schedule(time.monotonic())
    assert "idle" not in link.names()  # not before a claim came back empty
    link.run("claim")
    duties.take_results()
    scheduled = sqlite_queue.create_job(add_dataset(sqlite_queue.store), TYPE, delay=3600)  # work, not ready yet
    duties.schedule(time.monotonic())
    link.run("idle")
    duties.take_results()
    assert service.stop_requests == 0
    sqlite_queue.cancel(scheduled, reason="gone")
    duties.next["idle"] = 0.0
    duties.schedule(time.monotonic())
    link.run("idle")
    duties.take_results()
    assert service.stop_requests == 1 and service.stop_requested


def test_a_job_claimed_in_our_name_but_not_running_here_is_released(sqlite_queue: JobQueue) -> None:
    job_id, ours = _job(sqlite_queue), _job(sqlite_queue)
    assert sqlite_queue.claim_next("w-test", [TYPE]) is not None  # its answer was lost: we never ran it
    duties, link, service = _duties(sqlite_queue, workers=2)
    service.start_job(sqlite_queue.claim_next("w-test", [TYPE]) or {})  # this one runs here
    duties.schedule(time.monotonic())
    link.run("orphans")
    duties.take_results()
    assert [op.name for op in link.waiting if op.name.startswith("record:")] == [f"record:{job_id}"]
    assert service.stopped == []
    link.run(f"record:{job_id}")
    assert sqlite_queue.require_job(job_id)["status"] == JobStatus.PENDING
    assert sqlite_queue.require_job(ours)["status"] == JobStatus.RUNNING


def test_a_wake_up_during_a_claim_claims_again_at_once(sqlite_queue: JobQueue) -> None:
    duties, link, service = _duties(sqlite_queue)
    duties.schedule(time.monotonic())
    duties.woken_up()  # a job was created while the claim was in flight
    link.run("claim")  # ... and the claim missed it
    duties.take_results()
    assert duties.next["claim"] <= time.monotonic()
    link.waiting.clear()
    duties.schedule(time.monotonic())
    link.run("claim")
    duties.take_results()
    assert duties.next["claim"] > time.monotonic()  # an empty claim without a wake-up waits for the next poll
