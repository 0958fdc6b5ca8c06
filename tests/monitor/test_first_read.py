"""The first monitor read after a bulk load or an upgrade (no day stored yet) answers exactly
without computing and storing a document per day: the status counts by one count of every job,
a window's missing days folded from their rows in one range per stretch (issue 25). The
figures equal a direct count of the jobs, on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sccli.domain import ErrorKind
from sccli.monitor import JobMonitor, tally
from sccli.queue import JobQueue
from sccli.store.base import JobQuery, Store
from tests.conftest import BACKENDS, add_dataset, make_spec

START = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
DAYS = 9
TYPES = ["data_validation", "file_extraction"]


def counts(rows: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return sorted((r["status"], str(r["job_type"]), int(r["count"])) for r in rows if r["count"])


def bulk_loaded(store: Store, clock: list[datetime]) -> JobQueue:
    """Jobs ended over ``DAYS`` days (completed, failed, cancelled, one retried) and a few still
    open, written with no read in between: no day has stored figures, as after a bulk load."""
    queue = JobQueue(store, actor="cli:test@host", retry_base_seconds=0.0, retry_max_seconds=0.0)
    for day in range(DAYS):
        for i, job_type in enumerate(TYPES * 2):
            job_id = queue.create_job(add_dataset(store), job_type, max_attempts=2)
            claimed = queue.claim_next("w1", types=[job_type])
            assert claimed is not None
            clock[0] += timedelta(minutes=7 + i)
            if (day + i) % 3 == 0:
                queue.fail(job_id, claimed["lease_token"], "broken", kind=ErrorKind.PERMANENT)
            elif (day + i) % 3 == 1:
                queue.complete(job_id, claimed["lease_token"], {})
            else:
                queue.cancel(job_id)
        clock[0] += timedelta(days=1)
    queue.create_job(add_dataset(store), TYPES[0])  # open jobs: pending
    clock[0] += timedelta(hours=3)
    return queue


@pytest.mark.parametrize("kind", BACKENDS)
def test_first_read_after_a_bulk_load_stores_no_day_and_equals_a_direct_count(kind: str, tmp_path: Path) -> None:
    store = make_spec(kind, tmp_path).open()
    store.ensure_schema()
    clock = [START]
    store.now = lambda: clock[0]  # type: ignore[method-assign]
    bulk_loaded(store, clock)
    saved: list[int] = []
    folds: list[tuple[datetime, datetime]] = []
    real_save, real_fold = store.tallies.save_tally_day, store.tallies.finished_figures

    def save(day: int, *args: Any) -> bool:
        saved.append(day)
        return real_save(day, *args)

    def fold(lo: datetime, hi: datetime) -> dict[int, Any]:
        folds.append((lo, hi))
        return real_fold(lo, hi)

    store.tallies.save_tally_day = save  # type: ignore[method-assign,assignment]
    store.tallies.finished_figures = fold  # type: ignore[method-assign,assignment]
    first = START.replace(hour=0)
    assert tally.untallied_days(store, first, clock[0]) >= DAYS - 1 > tally.STORE_DAYS_PER_READ

    overview = JobMonitor(store, clock=lambda: clock[0]).get_queue_overview()
    assert counts(tally.status_type_counts(store)) == counts(store.stats.job_status_type_counts())
    stats = overview["queue_stats"]
    assert stats["total_jobs"] == store.count_jobs(JobQuery()) > DAYS * 2 * len(TYPES)
    statuses = ("completed", "failed", "cancelled", "pending", "running")
    assert {s: stats[f"{s}_jobs"] for s in statuses} == {s: store.count_jobs(JobQuery(status=[s])) for s in statuses}
    assert saved == []  # the read stored no day: the tally duty does that

    folds.clear()
    since = clock[0] - timedelta(days=7)
    mine = {r["job_type"]: r for r in tally.finished_stats(store, since, clock[0])}
    exact = {r["job_type"]: r for r in store.stats.finished_job_stats(since, clock[0])}
    assert sorted(mine) == sorted(exact) and mine
    for job_type, row in mine.items():
        for key in ("count", "completed", "failed", "cancelled", "retries", "timeouts"):
            assert row[key] == int(exact[job_type][key] or 0), (job_type, key)
    assert saved == [] and len(folds) <= 3  # the missing days as one stretch, plus the window's two partial days

    ticks = iter(range(10_000))  # the service's duty stores every day; the reads then equal the same counts
    tally.prebuild(store, 1000.0, clock=lambda: float(next(ticks)))
    assert counts(tally.status_type_counts(store)) == counts(store.stats.job_status_type_counts())
    again = {r["job_type"]: (r["count"], r["failed"]) for r in tally.finished_stats(store, since, clock[0])}
    assert again == {t: (r["count"], r["failed"]) for t, r in mine.items()}


def test_a_few_missing_days_are_still_computed_and_stored_by_the_read(tmp_path: Path) -> None:
    """Past the bulk case (no more than STORE_DAYS_PER_READ missing) a read stores the days it computed."""
    store = make_spec("sqlite", tmp_path).open()
    clock = [START]
    store.now = lambda: clock[0]  # type: ignore[method-assign]
    bulk_loaded(store, clock)
    ticks = iter(range(10_000))
    tally.prebuild(store, 1000.0, clock=lambda: float(next(ticks)))
    day = int((clock[0] - timedelta(days=1)).timestamp() // 86_400)
    store.tallies.bump_tally_days([day, day - 1])  # two days invalidated (a retry, a cleanup)
    assert tally.untallied_days(store, START - timedelta(days=1), clock[0]) == 2
    assert counts(tally.status_type_counts(store)) == counts(store.stats.job_status_type_counts())
    assert tally.untallied_days(store, START - timedelta(days=1), clock[0]) == 0
