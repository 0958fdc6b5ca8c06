"""Cleanup of old finished jobs with their events and log files (the contract's rule), in batches."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sccli.domain import JobStatus
from sccli.errors import InvalidInput
from sccli.monitor import tally
from sccli.monitor.log_files import JobLogFiles, LogTally
from sccli.store.base import JobQuery, Store

#: Jobs deleted per round trip (ids in one ``IN``/``$in``).
BATCH = 2000
Progress = Callable[[int, int], None]
#: Called with the ids of each batch of jobs really deleted.
Deleted = Callable[[list[str]], None]


def cleanup_cutoffs(now: datetime, days: int) -> dict[str, datetime]:
    """Completed and cancelled jobs older than ``days`` go, failed ones after ``2*days`` (by completed_at)."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise InvalidInput(f"days must be a whole number of at least 1, got {days!r}")
    return {
        JobStatus.COMPLETED.value: now - timedelta(days=days),
        JobStatus.FAILED.value: now - timedelta(days=2 * days),
        JobStatus.CANCELLED.value: now - timedelta(days=days),
    }


def count_old_jobs(store: Store, cutoffs: dict[str, datetime]) -> dict[str, int]:
    """How many jobs of each finished status the cleanup would delete (from the day tallies)."""
    return tally.ended_before(store, cutoffs)


def count_old_logs(store: Store, cutoffs: dict[str, datetime], logs: JobLogFiles, counted: LogTally) -> None:
    """Add to ``counted`` the log files of log_dir whose jobs the cleanup would delete (a dry run:
    log_dir is listed once, its job ids looked up in batches)."""
    present = logs.present(counted)
    ids = sorted(present)
    for status, cutoff in cutoffs.items():
        for start in range(0, len(ids), BATCH):
            query = JobQuery(job_ids=ids[start : start + BATCH], status=[status], completed_before=cutoff)
            for doc in store.find_jobs(query, sort=()):
                counted.files += 1
                counted.bytes += present[doc["job_id"]]


def delete_old_jobs(
    store: Store,
    cutoffs: dict[str, datetime],
    total: int,
    progress: Progress | None = None,
    on_deleted: Deleted | None = None,
    *,
    batch: int | None = None, max_batches: int | None = None,
) -> dict[str, int]:
    """Delete the old jobs batch by batch (``batch`` jobs per delete), then the events (and,
    through ``on_deleted``, the log files) of those that were really deleted.

    Each delete is conditional on the status and cutoff again, so a job retried meanwhile (back
    to pending) is kept with its events and its log. Pending and running jobs are never touched.
    With ``max_batches``, stops after that many batches, adding ``more: 1`` (some may be left).
    """
    held = tally.hold(store, max(cutoffs.values()))
    try:
        return _delete_batches(store, cutoffs, total, progress, on_deleted, batch, max_batches)
    finally:
        tally.release(store, held)


def _delete_batches(
    store: Store, cutoffs: dict[str, datetime], total: int, progress: Progress | None, on_deleted: Deleted | None,
    batch: int | None = None, max_batches: int | None = None,
) -> dict[str, int]:
    deleted = {status: 0 for status in cutoffs}
    events = done = rounds = 0
    for status, cutoff in cutoffs.items():
        while True:
            ids = store.stats.finished_job_ids(status, cutoff, batch or BATCH)
            if not ids:
                break
            n = store.delete_jobs(JobQuery(job_ids=ids, status=[status], completed_before=cutoff))
            gone = ids if n == len(ids) else _missing(store, ids)
            events += store.delete_events(gone) if gone else 0
            if gone and on_deleted is not None:
                on_deleted(gone)
            deleted[status] += n
            done += n
            if progress:
                progress(done, total)
            if n == 0:
                break
            rounds += 1
            if max_batches is not None and rounds >= max_batches:
                return {**deleted, "events": events, "more": 1}
    return {**deleted, "events": events}


def _missing(store: Store, ids: list[str]) -> list[str]:
    kept = {j["job_id"] for j in store.find_jobs(JobQuery(job_ids=ids), sort=())}
    return [i for i in ids if i not in kept]


def cleanup(
    store: Store,
    now: datetime,
    days: int,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    log_dir: str | None = None,
) -> dict[str, Any]:
    """``{completed_jobs_deleted, failed_jobs_deleted, cancelled_jobs_deleted, job_events_deleted,
    log_files_deleted, log_bytes_deleted, log_files_failed, log_dir, dry_run, cutoffs}``.

    A dry run counts what would go (``job_events_deleted`` None). The log files
    ``<log_dir>/sc_job_<job_id>.log`` of the deleted jobs go with them; ``log_dir=None`` leaves
    log files alone and uncounted (the log figures are then None).
    """
    cutoffs = cleanup_cutoffs(now, days)
    counts = count_old_jobs(store, cutoffs)
    logs = JobLogFiles(log_dir) if log_dir is not None else None
    removed = LogTally()
    events: int | None = None
    if not dry_run and any(counts.values()):
        on_deleted = (lambda ids: logs.remove(ids, removed)) if logs is not None else None
        result = delete_old_jobs(store, cutoffs, sum(counts.values()), progress, on_deleted)
        events = result.pop("events")
        counts = result
    elif not dry_run:
        events = 0
    elif logs is not None and any(counts.values()):
        count_old_logs(store, cutoffs, logs, removed)
    known = logs is not None
    return {
        "completed_jobs_deleted": counts[JobStatus.COMPLETED.value],
        "failed_jobs_deleted": counts[JobStatus.FAILED.value],
        "cancelled_jobs_deleted": counts[JobStatus.CANCELLED.value], "job_events_deleted": events,
        "log_files_deleted": removed.files if known else None, "log_bytes_deleted": removed.bytes if known else None,
        "log_files_failed": removed.failed if known else None, "log_error": removed.first_error, "log_dir": log_dir,
        "dry_run": dry_run, "cutoffs": cutoffs,
    }
