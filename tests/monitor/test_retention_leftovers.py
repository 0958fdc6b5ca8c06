"""Retention's leftovers: ``events_days`` (old events of kept jobs, in bounded batches through the
store's ``delete_events_before``) and the orphaned-partials sweep, on every backend."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sccli.monitor import retention as ret
from sccli.settings import Retention
from sccli.store.base import Store
from tests.monitor.history import NOW, ago, insert, job


def event(job_id: str, at: Any) -> dict[str, Any]:
    return {"job_id": job_id, "entity": "job", "from": None, "to": "created", "at": at, "actor": "t", "reason": "r"}


def run_day(store: Store, policy: Retention, start: Any = NOW, **kw: Any) -> list[dict[str, Any]]:
    results, clock = [], start
    while (result := ret.retention_step(store, policy, holder="a", now=clock, steps=2, **kw)) is not None:
        results.append(result)
        if result["done"]:
            break
        clock += timedelta(seconds=1)
    return results


def test_the_store_deletes_the_oldest_events_first_a_bounded_number(store: Store) -> None:
    [job_id] = insert(store, job(completed_at=ago(days=1)))
    for days in (50, 40, 30, 20):
        store.insert_event(event(job_id, ago(days=days)))
    store.insert_event(event(job_id, ago(days=1)))
    assert store.delete_events_before(ago(days=10), 2) == 2
    assert [e["at"] for e in store.find_events(job_id)] == [ago(days=30), ago(days=20), ago(days=1)]
    assert store.delete_events_before(ago(days=10), 5) == 2
    assert store.delete_events_before(ago(days=10), 5) == 0
    assert [e["at"] for e in store.find_events(job_id)] == [ago(days=1)]


def test_events_days_deletes_old_events_of_kept_jobs_in_batches(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    pending = job("google_sync", "pending", duration=None)
    kept = insert(store, *[job(completed_at=ago(days=5)) for _ in range(4)], pending)
    for job_id in kept:
        for days in (100, 90, 50):
            store.insert_event(event(job_id, ago(days=days)))
        store.insert_event(event(job_id, ago(days=2)))
    limits: list[int] = []
    real = store.delete_events_before

    def recording(before: Any, limit: int) -> int:
        limits.append(limit)
        return real(before, limit)

    monkeypatch.setattr(store, "delete_events_before", recording)
    policy = Retention(batch_size=3, events_days=30)
    results = run_day(store, policy)
    assert results[-1]["done"] and len(results) >= 2  # 15 old events, 3 per delete, 2 deletes per step
    assert set(limits) == {3}
    assert sum(r["deleted"]["old_events"] for r in results) == 15
    for job_id in kept:
        assert [e["at"] for e in store.find_events(job_id)] == [ago(days=2)]
        assert store.get_job(job_id) is not None
    assert "old events 15" in ret.retention_line(ret.retention_summary(store, policy))


def test_without_events_days_old_events_of_kept_jobs_stay(store: Store) -> None:
    [job_id] = insert(store, job(completed_at=ago(days=5)))
    store.insert_event(event(job_id, ago(days=400)))
    run_day(store, Retention())
    assert len(store.find_events(job_id)) == 1


def test_orphaned_partials_are_swept_and_those_of_active_jobs_kept(store: Store, tmp_path: Path) -> None:
    ended, running = insert(store, job(status="failed", completed_at=ago(days=1), error="x"),
                            job(status="running", heartbeat_at=NOW, duration=None))
    data = tmp_path / "out"
    (data / "d").mkdir(parents=True)
    orphan = data / "d" / f".a.idx.sc-partial-{ended}"
    active = data / "d" / f".b.idx.sc-partial-{running}"
    gone_job = data / f".c.idx.sc-partial-{'0' * 8}-0000-4000-8000-{'0' * 12}"
    for path in (orphan, active, gone_job):
        path.write_text("partial")
    assert run_day(store, Retention(sweep_partials=False), data_dirs=[str(data)])[-1]["done"]
    assert orphan.exists() and gone_job.exists()
    [result] = run_day(store, Retention(), NOW + timedelta(days=1), data_dirs=[str(data)])[-1:]
    assert result["done"] and result["deleted"]["partials"] == 2
    assert not orphan.exists() and not gone_job.exists() and active.exists()
