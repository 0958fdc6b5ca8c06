"""The ``scheduled`` state on every backend (SQLite, mongomock, wire-protocol MongoDB): jobs that may
not start yet stay out of every claim until a sweeper promotes them, fenced and idempotent."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from sccli import sweeps
from sccli.domain import JobStatus
from sccli.errors import Conflict, InvalidInput
from sccli.operations import purge_pending
from sccli.queue import JobQueue
from sccli.store.base import JobChange, JobQuery, Store
from tests.conftest import add_dataset, new_uuid

HOUR = timedelta(hours=1)


def job_events(store: Store, job_id: str) -> list[tuple[Any, Any, Any, Any]]:
    return [
        (e["from"], e["to"], e["actor"], e["reason"])
        for e in store.find_events(job_id)
        if e.get("entity", "job") == "job"
    ]


def come_due(store: Store, job_id: str) -> None:
    """The clock reaches the job's start time (its ``run_after`` moved into the past)."""
    assert (
        store.update_job(
            job_id, {"status": "scheduled"}, JobChange(set={"run_after": store.now() - timedelta(seconds=1)})
        )
        is not None
    )


def test_a_job_created_for_later_waits_scheduled_until_the_sweeper_promotes_it(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    job_id = queue.create_job(ds, "google_sync", run_at=store.now() + HOUR)
    job = queue.require_job(job_id)
    assert job["status"] == JobStatus.SCHEDULED and job["run_after"] > store.now() + timedelta(minutes=59)
    assert store.get_dataset(ds)["status"] == "sync queued"  # type: ignore[index]  # queued as any new job
    assert queue.claim_next("w1") is None
    assert queue.promote_due() == []  # not due yet
    come_due(store, job_id)
    promoted = queue.promote_due()
    assert [j["job_id"] for j in promoted] == [job_id] and promoted[0]["status"] == JobStatus.PENDING
    assert queue.promote_due() == []  # idempotent: a second sweeper's pass changes nothing
    assert job_events(store, job_id)[-1] == ("scheduled", "pending", "sweeper", "due")
    assert sum(1 for e in job_events(store, job_id) if e[3] == "due") == 1
    claimed = queue.claim_next("w1")
    assert claimed is not None and claimed["job_id"] == job_id


def test_a_start_time_in_the_past_runs_at_once(queue: JobQueue, store: Store) -> None:
    job_id = queue.create_job(add_dataset(store), "google_sync", run_at=store.now() - timedelta(days=3))
    assert queue.require_job(job_id)["status"] == JobStatus.PENDING
    claimed = queue.claim_next("w1")
    assert claimed is not None and claimed["job_id"] == job_id


def test_a_naive_start_time_is_utc_and_a_delay_schedules(queue: JobQueue, store: Store) -> None:
    naive = (store.now() + HOUR).replace(tzinfo=None)
    job = queue.require_job(queue.create_job(add_dataset(store), "data_validation", run_at=naive))
    assert abs((job["run_after"] - (store.now() + HOUR)).total_seconds()) < 5
    delayed = queue.require_job(queue.create_job(add_dataset(store), "data_validation", delay=timedelta(minutes=5)))
    assert delayed["status"] == JobStatus.SCHEDULED


@pytest.mark.parametrize(
    "kwargs", [{"delay": -1}, {"delay": float("nan")}, {"delay": 10**9}, {"delay": True}, {"run_at": "tomorrow"}]
)
def test_bad_start_times_write_nothing(queue: JobQueue, store: Store, kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        queue.create_job(add_dataset(store), "data_validation", **kwargs)
    both = {"run_at": store.now(), "delay": 5}
    with pytest.raises(InvalidInput):
        queue.create_job(add_dataset(store), "data_validation", **both)
    assert store.count_jobs(JobQuery()) == 0


def test_a_pending_job_written_by_others_with_a_future_run_after_is_never_started_early(
    queue: JobQueue, store: Store
) -> None:
    ds = add_dataset(store)
    doc = queue.build_job(ds, "data_validation", None, None, None, None, run_after_seconds=3600)
    assert doc["status"] == JobStatus.PENDING  # the migration's grace period writes these
    store.insert_job(doc)
    assert queue.claim_next("w1") is None
    assert queue.promote_due() == [] and queue.require_job(doc["job_id"])["status"] == JobStatus.PENDING


def test_run_now_promotes_one_scheduled_job(queue: JobQueue, store: Store) -> None:
    job_id = queue.create_job(add_dataset(store), "data_validation", run_at=store.now() + HOUR)
    other = queue.create_job(add_dataset(store), "data_validation", run_at=store.now() + HOUR)
    done = queue.run_now(job_id, actor="cli:admin@host")
    assert done["status"] == JobStatus.PENDING and done["run_after"] <= store.now()
    assert job_events(store, job_id)[-1] == ("scheduled", "pending", "cli:admin@host", "run now")
    claimed = queue.claim_next("w1")
    assert claimed is not None and claimed["job_id"] == job_id
    assert queue.claim_next("w1") is None and queue.require_job(other)["status"] == JobStatus.SCHEDULED
    with pytest.raises(Conflict):
        queue.run_now(job_id)  # running now, not scheduled


def test_retry_later_schedules_the_job_and_heals_its_dataset(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    job_id = queue.create_job(ds, "google_sync", max_attempts=1)
    job = queue.claim_next("w1")
    assert job is not None
    queue.fail(job_id, job["lease_token"], "drive down")
    assert store.get_dataset(ds)["status"] == "failed"  # type: ignore[index]
    done = queue.retry(job_id, actor="cli:admin@host", delay_seconds=3600)
    assert done["status"] == JobStatus.SCHEDULED and done["attempts"] == 0
    assert (done["run_after"] - store.now()).total_seconds() > 3500
    assert store.get_dataset(ds)["status"] == "sync queued"  # type: ignore[index]
    assert queue.claim_next("w1") is None
    with pytest.raises(Conflict):  # the scheduled retry holds the dataset's key for its type
        queue.create_job(ds, "google_sync")
    with pytest.raises(InvalidInput):
        queue.retry(job_id, delay_seconds=-5)


def test_a_failed_attempt_waits_out_its_backoff_scheduled_with_the_types_own_policy(store: Store) -> None:
    queue = JobQueue(store, retry_base_seconds=0.0, retry_max_seconds=0.0, rng=random.Random(3))
    queue.lifecycle.retry_by_type = {"google_sync": (3600.0, 3600.0)}
    ds = add_dataset(store)
    sync = queue.create_job(ds, "google_sync")
    check = queue.create_job(add_dataset(store), "data_validation")
    for _ in range(2):
        job = queue.claim_next("w1")
        assert job is not None
        queue.fail(job["job_id"], job["lease_token"], "network down")
    waiting = queue.require_job(sync)
    assert waiting["status"] == JobStatus.SCHEDULED and (waiting["run_after"] - store.now()).total_seconds() >= 1700
    assert store.get_dataset(ds)["status"] == "sync queued"  # type: ignore[index]  # the contract's error → queued
    assert queue.require_job(check)["status"] == JobStatus.PENDING  # the global policy: no delay


def test_a_dead_workers_job_recovered_with_a_delay_is_scheduled(store: Store) -> None:
    queue = JobQueue(store, retry_base_seconds=600.0, retry_max_seconds=600.0)
    job_id = queue.create_job(add_dataset(store), "data_validation")
    job = queue.claim_next("w1")
    assert job is not None
    store.update_job(job_id, {"status": "running"}, JobChange(set={"heartbeat_at": store.now() - HOUR}))
    recovered = queue.requeue_stale(60)
    assert [j["status"] for j in recovered] == [JobStatus.SCHEDULED]
    assert job_events(store, job_id)[-1][:3] == ("running", "scheduled", "sweeper")


def test_the_promotion_is_fenced_against_a_concurrent_cancel_and_reschedule(
    queue: JobQueue, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    cancelled = queue.create_job(add_dataset(store), "data_validation", run_at=store.now() + HOUR)
    rescheduled = queue.create_job(add_dataset(store), "data_validation", run_at=store.now() + HOUR)
    due = queue.create_job(add_dataset(store), "data_validation", run_at=store.now() + HOUR)
    for job_id in (cancelled, rescheduled, due):
        come_due(store, job_id)
    # The sweeper read the three due jobs; then an administrator cancelled one and cancelled and
    # retried another for an hour later, before the sweeper's writes.
    seen = store.find_jobs(JobQuery(status=["scheduled"]), sort=(("run_after", 1),))
    queue.cancel(cancelled, "not wanted")
    queue.cancel(rescheduled, "later")
    queue.retry(rescheduled, delay_seconds=3600)
    monkeypatch.setattr(store, "find_jobs", lambda *args, **kwargs: seen)
    promoted = queue.promote_due()
    monkeypatch.undo()
    assert [j["job_id"] for j in promoted] == [due]
    assert queue.require_job(cancelled)["status"] == JobStatus.CANCELLED
    assert queue.require_job(rescheduled)["status"] == JobStatus.SCHEDULED  # not started an hour early
    assert not [e for e in job_events(store, cancelled) + job_events(store, rescheduled) if e[3] == "due"]


def test_cancel_and_purge_end_scheduled_jobs(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    job_id = queue.create_job(ds, "google_sync", run_at=store.now() + HOUR)
    done = queue.cancel(job_id, "not wanted")
    assert done["status"] == JobStatus.CANCELLED and "active_key" not in done
    assert store.get_dataset(ds)["status"] == "sync error"  # type: ignore[index]
    later = queue.create_job(add_dataset(store), "data_validation", run_at=store.now() + HOUR)
    now = queue.create_job(add_dataset(store), "data_validation")
    result = purge_pending(queue, "data_validation", actor="cli:admin@host")
    assert sorted(result["purged"]) == sorted([later, now])
    assert store.count_jobs(JobQuery(job_ids=[later, now])) == 0


def test_one_active_job_per_dataset_and_type_counts_scheduled_ones(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    queue.create_job(ds, "google_sync", run_at=store.now() + HOUR)
    with pytest.raises(Conflict):
        queue.create_job(ds, "google_sync")
    with pytest.raises(Conflict):
        queue.create_job(ds, "google_sync", run_at=store.now() + 2 * HOUR)
    assert queue.create_job(ds, "data_validation")  # another type is free
    assert queue.count_jobs(JobQuery(status=["scheduled"])) == 1


def test_promotion_works_in_batches_earliest_first(queue: JobQueue, store: Store) -> None:
    ids = [queue.create_job(add_dataset(store), "data_validation", run_at=store.now() + HOUR) for _ in range(5)]
    for seconds, job_id in zip((50, 40, 30, 20, 10), ids, strict=True):
        store.update_job(
            job_id, {"status": "scheduled"}, JobChange(set={"run_after": store.now() - timedelta(seconds=seconds)})
        )
    first = sweeps.promote_due(queue.lifecycle, limit=2)
    assert [j["job_id"] for j in first] == ids[:2]
    assert [j["job_id"] for j in sweeps.promote_due(queue.lifecycle, limit=10)] == ids[2:]
    assert queue.count_jobs(JobQuery(status=["pending"])) == 5


def test_an_unknown_job_cannot_be_run_now(queue: JobQueue) -> None:
    from sccli.errors import NotFound

    with pytest.raises(NotFound):
        queue.run_now(new_uuid())
