"""Stale recovery without races: a worker that resumes heartbeating keeps its job, and a host
whose clock runs ahead cannot steal healthy jobs (staleness is judged on the store's clock)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sccli.queue import JobQueue
from sccli.store.base import JobChange, Store
from tests.conftest import StoreSpec, add_dataset


def _running_job_with_old_heartbeat(queue: JobQueue, store: Store, age: float) -> dict[str, Any]:
    ds = add_dataset(store)
    queue.create_job(ds, "dataset_conversion")
    job = queue.claim_next("w1")
    assert job is not None
    old = store.now() - timedelta(seconds=age)
    store.update_job(job["job_id"], {"status": "running"}, JobChange(set={"heartbeat_at": old}))
    return job


def test_a_worker_that_resumes_heartbeating_keeps_its_job(
    queue: JobQueue, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _running_job_with_old_heartbeat(queue, store, age=120)
    real_find = store.find_jobs

    def find_then_worker_wakes_up(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        found = real_find(*args, **kwargs)
        assert queue.heartbeat(job["job_id"], job["lease_token"])  # the paused worker resumes here
        return found

    monkeypatch.setattr(store, "find_jobs", find_then_worker_wakes_up)
    assert queue.requeue_stale(stale_after_seconds=60) == []
    kept = queue.require_job(job["job_id"])
    assert kept["status"] == "running" and kept["lease_token"] == job["lease_token"] and kept["attempts"] == 1


def test_a_silent_worker_loses_its_job(queue: JobQueue, store: Store) -> None:
    job = _running_job_with_old_heartbeat(queue, store, age=120)
    recovered = queue.requeue_stale(stale_after_seconds=60)
    assert [j["job_id"] for j in recovered] == [job["job_id"]]
    assert recovered[0]["status"] == "pending" and recovered[0]["errors"][-1]["kind"] == "stale"
    assert queue.heartbeat(job["job_id"], job["lease_token"]) is False


def test_a_host_with_its_clock_30s_ahead_cannot_steal_healthy_jobs(
    wire_spec: StoreSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two hosts on one MongoDB: the healthy worker beat 5 s ago by the server's clock; the
    sweeper's host runs 30 s fast; with stale_after 20 s its own clock would call the job stale."""
    import sccli.clock
    import sccli.store.mongo_clock as mongo_module

    healthy_store = wire_spec.open()
    healthy = JobQueue(healthy_store, actor="worker:a:1")
    job = _running_job_with_old_heartbeat(healthy, healthy_store, age=5)

    real_utcnow = mongo_module.utcnow
    fast = lambda: real_utcnow() + timedelta(seconds=30)  # noqa: E731
    monkeypatch.setattr(mongo_module, "utcnow", fast)  # the host's clock as the offset is measured ...
    monkeypatch.setattr(sccli.clock, "utcnow", fast)  # ... and as the store's clock reads it
    skewed_store = wire_spec.open()
    skewed = JobQueue(skewed_store, actor="sweeper")
    offset = skewed_store.clock_offset()  # type: ignore[attr-defined]
    assert timedelta(seconds=-31) < offset < timedelta(seconds=-29), offset
    assert skewed.requeue_stale(stale_after_seconds=20) == []
    assert healthy.require_job(job["job_id"])["status"] == "running"
    # …while a job that is stale by the server's clock is recovered by the same host.
    stale = _running_job_with_old_heartbeat(healthy, healthy_store, age=60)
    assert [j["job_id"] for j in skewed.requeue_stale(stale_after_seconds=20)] == [stale["job_id"]]
