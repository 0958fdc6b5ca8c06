"""The claim's cost does not depend on how many jobs wait for a time (SQLite): its query plan and
the number of SQLite VM steps it takes are the same with 10,000 scheduled jobs ahead of the one
ready job as with none. The contrast, the same backlog left ``pending`` with a future
``run_after`` (as before the ``scheduled`` state), makes the claim walk every waiting job."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sccli.queue import JobQueue
from sccli.store.base import JobChange
from sccli.store.sqlite import SqliteStore
from tests.conftest import new_uuid

BACKLOG = 10_000


def vm_steps(conn: sqlite3.Connection, action: Callable[[], Any]) -> tuple[int, Any]:
    """SQLite virtual-machine steps taken while ``action`` runs (a count of rows visited and
    index entries walked, independent of the machine's speed)."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    conn.set_progress_handler(count, 1)
    try:
        result = action()
    finally:
        conn.set_progress_handler(None, 1)
    return steps[0], result


def backlog(queue: JobQueue, n: int, status: str) -> None:
    """``n`` high-priority jobs created an hour ago that may start only tomorrow."""
    store = queue.store
    earlier, tomorrow = store.now() - timedelta(hours=1), store.now() + timedelta(days=1)
    with store.atomic():
        for _ in range(n):
            doc = queue.build_job(
                new_uuid(), "data_validation", None, 1, None, None, allow_duplicate=True, run_at=tomorrow
            )
            doc.update(status=status, created_at=earlier, run_after=tomorrow)
            store.insert_job(doc)


def claim_cost(tmp_path: Path, n: int, status: str) -> tuple[int, list[str]]:
    """(VM steps of one claim of the one ready job, the claim query's plan) behind ``n`` waiting jobs."""
    store = SqliteStore(tmp_path / f"{status}-{n}.db")
    queue = JobQueue(store, actor="cli:test@host")
    backlog(queue, n, status)
    ready = queue.create_job(new_uuid(), "data_validation", priority=3, allow_missing_dataset=True)
    conn = store.conn
    sql, params = store.claim_query(store.now(), None)
    plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]
    steps, job = vm_steps(conn, lambda: queue.claim_next("w1"))
    assert job is not None and job["job_id"] == ready
    store.close()
    return steps, plan


def test_the_claim_does_not_walk_scheduled_jobs(tmp_path: Path) -> None:
    empty_steps, empty_plan = claim_cost(tmp_path, 0, "scheduled")
    steps, plan = claim_cost(tmp_path, BACKLOG, "scheduled")
    assert plan == empty_plan and any("ix_jobs_claim" in line for line in plan), plan
    assert not any(line.startswith("SCAN") or "TEMP B-TREE" in line for line in plan), plan
    assert steps <= empty_steps * 1.5 + 100, (
        f"claim took {steps} VM steps behind {BACKLOG} scheduled jobs, {empty_steps} behind none"
    )


def test_the_measure_sees_a_pending_backlog(tmp_path: Path) -> None:
    """The same backlog left pending with a future run_after: the claim walks it (what the
    scheduled state removes), so the step count above would catch a claim that read it."""
    empty_steps, _ = claim_cost(tmp_path, 0, "pending")
    steps, _ = claim_cost(tmp_path, BACKLOG, "pending")
    assert steps > empty_steps + BACKLOG, (steps, empty_steps)


def test_the_promotion_visits_only_the_due_jobs(tmp_path: Path) -> None:
    """The sweeper reads due scheduled jobs from their own index, in start order: 10,000 jobs
    scheduled for tomorrow cost it nothing."""
    costs = []
    for n in (0, BACKLOG):
        store = SqliteStore(tmp_path / f"promote-{n}.db")
        queue = JobQueue(store, actor="cli:test@host")
        backlog(queue, n, "scheduled")
        due = queue.create_job(new_uuid(), "data_validation", allow_missing_dataset=True, delay=3600)
        store.update_job(due, {"status": "scheduled"}, JobChange(set={"run_after": store.now() - timedelta(seconds=1)}))
        steps, promoted = vm_steps(store.conn, lambda: queue.promote_due())  # noqa: B023
        assert [j["job_id"] for j in promoted] == [due]
        costs.append(steps)
        store.close()
    assert costs[1] <= costs[0] * 1.5 + 100, costs


def test_queries_about_pending_jobs_keep_their_plans(tmp_path: Path) -> None:
    """The promotion's index is partial (scheduled jobs only): a typed readiness check still
    reads the (status, job_type) index, not every ready job of other types."""
    store = SqliteStore(tmp_path / "plans.db")
    store.ensure_schema()
    sql = f"SELECT 1 FROM {store.names['jobs']} WHERE status IN (?) AND job_type IN (?) AND run_after <= ? LIMIT 1"
    plan = [row[3] for row in store.conn.execute("EXPLAIN QUERY PLAN " + sql, ("pending", "google_sync", 0.0))]
    assert plan == ["SEARCH jobs USING INDEX ix_jobs_status_type (status=? AND job_type=?)"], plan
