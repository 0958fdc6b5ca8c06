"""Every monitoring query starts from an index: EXPLAIN QUERY PLAN on SQLite, and on MongoDB the
opening ``$match`` of every pipeline constrains an index's first key (mongomock and the wire
server have no ``explain``; ``bench/monitor.py`` runs the real one when a mongod is at hand)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sccli.monitor import JobMonitor
from sccli.store import open_store
from sccli.store.mongo_stats import leading_index
from tests.monitor.history import NOW, insert, job


def sqlite_plans(tmp_path: Path) -> dict[str, list[str]]:
    store = open_store(f"sqlite:///{tmp_path / 'plans.db'}")
    store.ensure_schema()
    # plans with job types known
    insert(store, job(completed_at=NOW), job("google_sync", "failed", completed_at=NOW, error="x"))
    seen: list[tuple[str, Any]] = []
    real_read = store._read  # type: ignore[attr-defined]

    def record(sql: str, params: Any = ()) -> Any:
        seen.append((sql, params))
        return real_read(sql, params)

    for reader in (store, store.stats, store.tallies, store.ledger):  # the parts hold the store's reader
        reader._read = record  # type: ignore[attr-defined]
    monitor = JobMonitor(store, clock=lambda: NOW)
    monitor.get_queue_overview()
    monitor.get_performance_report(7)
    monitor.get_failed_jobs(24)
    monitor.cleanup_old_data(30, dry_run=True)
    plans = {}
    for sql, params in seen:
        rows = real_read("EXPLAIN QUERY PLAN " + sql, params)
        plans[" ".join(sql.split())[:120]] = [r[3] for r in rows]
    return plans


def test_sqlite_queries_never_scan_the_jobs_table(tmp_path: Path) -> None:
    plans = sqlite_plans(tmp_path)
    job_lines = [line for lines in plans.values() for line in lines if line.split()[1:2] in (["jobs"], ["j"])]
    assert len(plans) >= 8 and job_lines
    bad = [line for line in job_lines if "INDEX" not in line]
    assert bad == []
    assert any("ix_jobs_timed_out" in line for line in job_lines)  # timeouts read only jobs that had one
    assert any("COVERING INDEX ix_jobs_status_type" in line for line in job_lines)
    assert any(
        "COVERING INDEX ix_jobs_type_finished (job_type=? AND completed_at>? AND completed_at<?)" in line
        for line in job_lines
    )
    # only the queue counts scan
    assert not any(line.startswith("SCAN") and "ix_jobs_status_type" not in line for line in job_lines)


def test_mongo_pipelines_open_with_an_indexed_match() -> None:
    store = open_store("mongomock://plans", "plans")
    store.ensure_schema()
    indexes = store.coll("jobs").index_information()  # type: ignore[attr-defined]
    pipelines = store.stats.monitor_pipelines(NOW)  # type: ignore[attr-defined]
    assert len(pipelines) == 9
    chosen = {name: leading_index(pipeline, indexes) for name, (_, pipeline) in pipelines.items()}
    assert None not in chosen.values(), chosen
    assert (chosen["finished"], chosen["percentiles"], chosen["activity"], chosen["stale"]) == (
        "completed_at", "claim_typed", "status_updated_at", "claim_priority",
    )


@pytest.mark.parametrize(
    ("pipeline", "expected"),
    [
        ([{"$group": {"_id": 1}}], None), ([{"$match": {"error": "x"}}], None),
        ([{"$match": {"completed_at": 1}}], "completed_at"),
    ],
)
def test_leading_index_rejects_unindexed_openings(pipeline: list, expected: str | None) -> None:
    indexes = {"_id_": {"key": [("_id", 1)]}, "completed_at": {"key": [("completed_at", 1)]}}
    assert leading_index(pipeline, indexes) == expected
