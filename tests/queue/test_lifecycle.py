"""Claim, heartbeat, complete, fail with backoff, cancel, retry, release, stale recovery."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from sccli.clock import utcnow
from sccli.errors import Conflict, NotFound
from sccli.queue import JobQueue
from sccli.store.base import JobChange, JobQuery, Store
from tests.conftest import add_dataset


def claim(queue: JobQueue, worker: str = "w1") -> dict:
    job = queue.claim_next(worker)
    assert job is not None
    return job


def test_claim_sets_lease_and_moves_dataset(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    job_id = queue.create_job(ds, "dataset_conversion")
    job = claim(queue)
    assert job["job_id"] == job_id and job["status"] == "running" and job["attempts"] == 1
    assert job["lease_token"] and job["worker_id"] == "w1" and job["heartbeat_at"] is not None
    assert store.get_dataset(ds)["status"] == "converting"  # type: ignore[index]
    assert queue.claim_next("w2") is None


def test_complete_is_fenced_and_chains_exactly_once(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    queue.create_job(ds, "google_sync", {"sensor_type": "TIFF", "data_url": "x"})
    job = claim(queue)
    assert queue.complete(job["job_id"], "wrong-lease") is None
    done = queue.complete(job["job_id"], job["lease_token"], {"status": "ok", "next_parameters": {"input_path": "/in"}})
    assert done is not None and done["status"] == "completed" and "active_key" not in done
    assert queue.complete(job["job_id"], job["lease_token"]) is None  # finishing twice changes nothing
    children = store.find_jobs(JobQuery(parent_job_id=job["job_id"]))
    assert len(children) == 1
    child = children[0]
    assert child["job_type"] == "dataset_conversion" and child["parameters"] == {
        "sensor_type": "TIFF",
        "input_path": "/in",
    }
    assert store.get_dataset(ds)["status"] == "conversion queued"  # type: ignore[index]
    conv = claim(queue)
    queue.complete(conv["job_id"], conv["lease_token"])
    assert store.get_dataset(ds)["status"] == "done"  # type: ignore[index]


@pytest.mark.parametrize(("result", "convert", "status", "child"), [
    ({"archives": ["a.zip"]}, False, "unzipping", "file_extraction"),
    ({}, True, "conversion queued", "dataset_conversion"),
    ({}, False, "done", None),
])
def test_upload_chaining(
    queue: JobQueue, store: Store, result: dict, convert: bool, status: str, child: str | None
) -> None:
    ds = add_dataset(store, convert=convert)
    queue.create_job(ds, "file_upload")
    job = claim(queue)
    queue.complete(job["job_id"], job["lease_token"], result)
    assert store.get_dataset(ds)["status"] == status  # type: ignore[index]
    children = store.find_jobs(JobQuery(parent_job_id=job["job_id"]))
    assert [c["job_type"] for c in children] == ([child] if child else [])


def test_fail_retries_with_backoff_then_fails_for_good(store: Store) -> None:
    queue = JobQueue(store, retry_base_seconds=30, retry_max_seconds=3600, rng=random.Random(1))
    ds = add_dataset(store)
    job_id = queue.create_job(ds, "dataset_conversion", max_attempts=2)
    job = claim(queue)
    before = utcnow()
    again = queue.fail(job_id, job["lease_token"], "disk full")
    assert again is not None and again["status"] == "scheduled" and again["error"] == "disk full"
    delay = (again["run_after"] - before).total_seconds()
    assert 14 <= delay <= 46  # 30 s ± 50 %
    assert queue.claim_next("w1") is None  # not claimable before run_after
    assert store.get_dataset(ds)["status"] == "conversion queued"  # type: ignore[index]
    assert queue.promote_due() == []  # not due yet
    # due by the store's clock (on MongoDB the server's: the host's may run a few ms ahead of it)
    store.update_job(job_id, {"status": "scheduled"}, JobChange(set={"run_after": store.now() - timedelta(seconds=1)}))
    assert [j["job_id"] for j in queue.promote_due()] == [job_id]
    job = claim(queue)
    assert job["attempts"] == 2
    final = queue.fail(job_id, job["lease_token"], "disk still full")
    assert final is not None and final["status"] == "failed" and "active_key" not in final
    assert [e["error"] for e in final["errors"]] == ["disk full", "disk still full"]
    assert store.get_dataset(ds)["status"] == "failed"  # type: ignore[index]
    assert store.get_dataset(ds)["error_message"] == "disk still full"  # type: ignore[index]
    assert store.count_jobs(JobQuery(status=["running", "pending"])) == 0


def test_a_job_runs_at_most_max_attempts_times(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    job_id = queue.create_job(ds, "google_sync", max_attempts=3)
    runs = 0
    while (job := queue.claim_next("w")) is not None:
        runs += 1
        queue.fail(job_id, job["lease_token"], f"error {runs}")
    assert runs == 3 and queue.get_job(job_id)["status"] == "failed"  # type: ignore[index]


def test_cancel_pending_at_once_and_running_by_request(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    pending = queue.create_job(ds, "dataset_conversion")
    cancelled = queue.cancel(pending, "not needed")
    assert cancelled["status"] == "cancelled" and cancelled["error"] == "not needed"
    assert store.get_dataset(ds)["status"] == "conversion error"  # type: ignore[index]
    with pytest.raises(Conflict):
        queue.cancel(pending)
    with pytest.raises(NotFound):
        queue.cancel("no-such-job")
    ds2 = add_dataset(store)
    queue.create_job(ds2, "dataset_conversion")
    job = claim(queue)
    requested = queue.cancel(job["job_id"], "operator")
    assert requested["status"] == "running" and requested["cancel_requested"] is True
    assert queue.heartbeat(job["job_id"], job["lease_token"]) is True
    assert queue.require_job(job["job_id"])["cancel_requested"] is True
    done = queue.mark_cancelled(job["job_id"], job["lease_token"])
    assert done is not None and done["status"] == "cancelled" and done["error"] == "operator"


def test_retry_gives_fresh_attempts_and_keeps_history(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    job_id = queue.create_job(ds, "data_validation", max_attempts=1)
    job = claim(queue)
    queue.fail(job_id, job["lease_token"], "bad checksum")
    assert store.get_dataset(ds)["status"] == "submitted"  # type: ignore[index]  # validation has no dataset stages
    retried = queue.retry(job_id)
    assert retried["status"] == "pending" and retried["attempts"] == 0 and len(retried["errors"]) == 1
    with pytest.raises(Conflict):
        queue.retry(job_id)


def test_retry_refuses_when_another_active_job_holds_the_key(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    first = queue.create_job(ds, "data_validation")
    queue.cancel(first)
    queue.create_job(ds, "data_validation")
    with pytest.raises(Conflict):
        queue.retry(first)
    assert queue.get_job(first)["status"] == "cancelled"  # type: ignore[index]


def test_release_returns_the_attempt(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    job_id = queue.create_job(ds, "dataset_conversion")
    job = claim(queue)
    released = queue.release(job_id, job["lease_token"])
    assert released is not None and released["status"] == "pending" and released["attempts"] == 0
    assert claim(queue)["attempts"] == 1


def test_heartbeat_updates_progress_and_detects_lost_lease(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    queue.create_job(ds, "dataset_conversion")
    job = claim(queue)
    assert queue.heartbeat(job["job_id"], job["lease_token"], 42.42, "halfway") is True
    beat = queue.require_job(job["job_id"])
    assert beat["progress_percentage"] == 42.4 and beat["progress_message"] == "halfway"
    assert beat["heartbeat_at"] >= job["heartbeat_at"]
    assert queue.heartbeat(job["job_id"], "stolen") is False
    assert queue.require_job(job["job_id"])["progress_message"] == "halfway"


def test_requeue_stale_is_fenced_and_respects_attempts(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    job_id = queue.create_job(ds, "dataset_conversion", max_attempts=2)
    fresh_ds = add_dataset(store)
    fresh_id = queue.create_job(fresh_ds, "dataset_conversion")
    job = claim(queue)
    claim(queue, "w2")
    old = utcnow() - timedelta(minutes=5)
    store.update_job(job_id, {"status": "running"}, JobChange(set={"heartbeat_at": old}))
    recovered = queue.requeue_stale(stale_after_seconds=60)
    assert [r["job_id"] for r in recovered] == [job_id]
    assert recovered[0]["status"] == "pending" and recovered[0]["errors"][-1]["kind"] == "stale"
    assert queue.get_job(fresh_id)["status"] == "running"  # type: ignore[index]
    assert queue.complete(job_id, job["lease_token"]) is None  # the dead worker lost its lease
    store.update_job(job_id, {"status": "pending"}, JobChange(set={"run_after": store.now() - timedelta(seconds=1)}))
    job = claim(queue)
    store.update_job(job_id, {"status": "running"}, JobChange(set={"heartbeat_at": old}))
    final = queue.requeue_stale(stale_after_seconds=60)
    assert final[0]["status"] == "failed"
    events = [(e["from"], e["to"], e["actor"]) for e in store.find_events(job_id) if e.get("entity") == "job"]
    assert events[-1] == ("running", "failed", "sweeper")


def test_refused_dataset_transition_never_blocks_the_job(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store, status="done")
    job_id = queue.create_job(ds, "dataset_conversion")
    assert store.get_dataset(ds)["status"] == "done"  # type: ignore[index]
    refused = [e for e in store.find_events(job_id) if e.get("refused")]
    assert refused and refused[0]["to"] == "conversion queued"
    job = claim(queue)
    assert queue.complete(job_id, job["lease_token"]) is not None


def test_every_transition_is_logged_with_its_actor(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    job_id = queue.create_job(ds, "data_validation")
    job = claim(queue)
    queue.complete(job_id, job["lease_token"], actor="worker:h:1")
    events = [(e["from"], e["to"]) for e in store.find_events(job_id) if e.get("entity") == "job"]
    assert events == [(None, "pending"), ("pending", "running"), ("running", "completed")]
