"""Cleanup: the contract's rule, the events of deleted jobs, dry runs, never active jobs."""

from __future__ import annotations

import pytest

from sccli.errors import InvalidInput
from sccli.monitor import JobMonitor
from sccli.monitor import cleanup as cleanup_mod
from sccli.store.base import JobChange, JobQuery, Store
from tests.monitor.history import NOW, ago, insert, job


def build(store: Store) -> dict[str, list[str]]:
    groups = {
        "gone": insert(store, *[job(completed_at=ago(days=40)) for _ in range(3)],
                       job(status="cancelled", completed_at=ago(days=31), duration=None),
                       job(status="failed", completed_at=ago(days=61), error="x")),
        "kept": insert(store, *[job(completed_at=ago(days=20)) for _ in range(2)],
                       *[job(status="failed", completed_at=ago(days=40), error="x") for _ in range(2)],
                       job(status="pending", created_at=ago(days=90), duration=None),
                       job(status="running", created_at=ago(days=90), started_at=ago(days=89), heartbeat_at=ago(days=89), duration=None)),
    }
    for job_id in groups["gone"] + groups["kept"]:
        for step in ("created", "claimed"):
            store.insert_event({"job_id": job_id, "entity": "job", "from": None, "to": step, "at": ago(days=90), "actor": "test", "reason": step})
    return groups


def test_dry_run_counts_and_deletes_nothing(store: Store) -> None:
    build(store)
    result = JobMonitor(store, clock=lambda: NOW).cleanup_old_data(30, dry_run=True)
    assert (result["completed_jobs_deleted"], result["failed_jobs_deleted"], result["cancelled_jobs_deleted"]) == (3, 1, 1)
    assert result["job_events_deleted"] is None and result["dry_run"] is True
    assert store.count_jobs(JobQuery()) == 11


def test_cleanup_deletes_old_finished_jobs_and_their_events(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    groups = build(store)
    monkeypatch.setattr(cleanup_mod, "BATCH", 2)  # several rounds
    seen: list[tuple[int, int]] = []
    result = JobMonitor(store, clock=lambda: NOW).cleanup_old_data(30, progress=lambda done, total: seen.append((done, total)))
    assert result["completed_jobs_deleted"] == 3 and result["failed_jobs_deleted"] == 1 and result["cancelled_jobs_deleted"] == 1
    assert result["job_events_deleted"] == 10
    assert seen[-1] == (5, 5) and len(seen) == 4
    assert all(store.get_job(i) is None and store.find_events(i) == [] for i in groups["gone"])
    assert all(store.get_job(i) is not None and len(store.find_events(i)) == 2 for i in groups["kept"])
    again = JobMonitor(store, clock=lambda: NOW).cleanup_old_data(30)
    assert (again["completed_jobs_deleted"], again["failed_jobs_deleted"], again["cancelled_jobs_deleted"], again["job_events_deleted"]) == (0, 0, 0, 0)


def test_a_job_retried_meanwhile_keeps_its_events(store: Store) -> None:
    old = insert(store, *[job(completed_at=ago(days=40)) for _ in range(2)])
    for job_id in old:
        store.insert_event({"job_id": job_id, "entity": "job", "from": None, "to": "x", "at": ago(days=40), "actor": "t", "reason": "r"})
    real_delete = store.delete_jobs

    def retry_then_delete(query: JobQuery) -> int:  # an operator retries the second job between read and delete
        store.update_job(old[1], {"status": "completed"}, JobChange(set={"status": "pending", "completed_at": None}))
        return real_delete(query)

    store.delete_jobs = retry_then_delete  # type: ignore[method-assign]
    cutoffs = cleanup_mod.cleanup_cutoffs(NOW, 30)
    out = cleanup_mod.delete_old_jobs(store, {"completed": cutoffs["completed"]}, 2)
    assert out == {"completed": 1, "events": 1}
    assert store.get_job(old[0]) is None and store.get_job(old[1])["status"] == "pending"
    assert len(store.find_events(old[1])) == 1


def test_days_must_be_positive(store: Store) -> None:
    with pytest.raises(InvalidInput):
        JobMonitor(store).cleanup_old_data(0)
