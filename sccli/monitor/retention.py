"""Retention without cron: once a day, one service deletes old finished jobs (settings ``retention``).

The same code as ``sc monitor cleanup`` (:mod:`sccli.monitor.cleanup`: the day tallies held while
rows go, events and log files of the deleted jobs removed with them), with each status's own age
and bounded batches. Exactly one service does a day's retention: it holds the store lease
``retention`` (:mod:`sccli.store.contract_leases`) while it works, renewing it per step, and marks
the day done on it (``done_period``) when nothing is left; a service that dies mid-run leaves the
lease to expire, and the next one finishes the day. Each step deletes at most ``steps`` batches of
``batch_size`` jobs, so the store sees many small deletes, never one huge one. Once the jobs are
done, the same steps delete the events older than ``events_days`` (of jobs that are kept: those
of deleted jobs went with them), ``batch_size`` at a time, and then sweep the orphaned partial
outputs under the data directories (as ``sc monitor cleanup`` does).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sccli.domain import JobStatus

if TYPE_CHECKING:
    from sccli.settings import Retention
    from sccli.store.base import Store

LEASE = "retention"
#: A holder that stops renewing for this long is taken for dead.
LEASE_SECONDS = 300.0
#: The key of retention's records in ``job_events``.
EVENT_KEY = "retention"


def retention_cutoffs(now: datetime, retention: Retention) -> dict[str, datetime]:
    """Completed and cancelled jobs older than ``completed_days`` go, failed ones after ``failed_days``."""
    completed = now - timedelta(days=retention.completed_days)
    return {
        JobStatus.COMPLETED.value: completed,
        JobStatus.FAILED.value: now - timedelta(days=retention.failed_days),
        JobStatus.CANCELLED.value: completed,
    }


def period_due(now: datetime, retention: Retention) -> str | None:
    """Today's period (a local date, ``YYYY-MM-DD``) once its ``at`` time has passed, else None."""
    from sccli import cron

    local = now.astimezone(cron.timezone(retention.timezone))
    hour, minute = (int(x) for x in retention.at.split(":"))
    return local.date().isoformat() if (local.hour, local.minute) >= (hour, minute) else None


def retention_step(
    store: Store,
    retention: Retention,
    *,
    holder: str,
    now: datetime | None = None,
    log_dir: str | None = None,
    steps: int = 10,
    data_dirs: Sequence[str | os.PathLike[str]] = (),
) -> dict[str, Any] | None:
    """One step of today's retention if it is due, not done and this holder gets the lease:
    ``{period, deleted: {...}, done}``; None when there is nothing for this holder to do."""
    now = now or store.now()
    period = period_due(now, retention)
    lease = store.leases.get(LEASE)
    if period is None or (lease is not None and lease.get("done_period") == period):
        return None
    if not store.leases.acquire(LEASE, holder, now, now + timedelta(seconds=LEASE_SECONDS)):
        return None
    lease = store.leases.get(LEASE) or {}
    if lease.get("done_period") == period:  # finished by another service just before we took it
        store.leases.release(LEASE, holder, now)
        return None
    from sccli.monitor.cleanup import delete_old_jobs  # here: the overview reads retention_summary alone
    from sccli.monitor.log_files import JobLogFiles, LogTally

    logs, removed = (JobLogFiles(log_dir) if log_dir else None), LogTally()
    on_deleted = (lambda ids: logs.remove(ids, removed)) if logs is not None else None
    deleted = delete_old_jobs(
        store,
        retention_cutoffs(now, retention),
        0,
        on_deleted=on_deleted,
        batch=retention.batch_size,
        max_batches=steps,
    )
    more = bool(deleted.pop("more", 0))
    if not more and retention.events_days is not None:
        deleted["old_events"], more = delete_old_events(
            store, now - timedelta(days=retention.events_days), retention.batch_size, steps
        )
    if not more and retention.sweep_partials and data_dirs:
        from sccli.monitor.partials import sweep_partials  # imports the handlers: not for `monitor overview`

        deleted["partials"] = sweep_partials(store, data_dirs).removed
    done = not more
    deleted["log_files"] = removed.files
    result = {"period": period, "deleted": deleted, "done": done, "holder": holder, "at": now}
    _record(store, lease, result)
    if done:
        store.leases.release(
            LEASE, holder, now, {"done_period": period, "last": _total(lease, period, deleted), "finished_at": now}
        )
    else:  # still held (renewed), with the running sums: the holder may change mid-day
        until = now + timedelta(seconds=LEASE_SECONDS)
        store.leases.acquire(LEASE, holder, now, until, {"running": _total(lease, period, deleted)})
    return result


def delete_old_events(store: Store, before: datetime, batch: int, max_batches: int) -> tuple[int, bool]:
    """Delete events recorded before ``before``, ``batch`` per delete, at most ``max_batches``
    deletes: (how many, whether some may be left)."""
    total = 0
    for _ in range(max_batches):
        n = store.delete_events_before(before, batch)
        total += n
        if n < batch:
            return total, False
    return total, True


def last_retention(store: Store) -> dict[str, Any] | None:
    """The last finished retention (``{period, deleted, finished_at}``), or None."""
    lease = store.leases.get(LEASE)
    if not lease or not lease.get("done_period"):
        return None
    return {
        "period": lease["done_period"],
        "deleted": (lease.get("last") or {}).get("deleted"),
        "finished_at": lease.get("finished_at"),
    }


def retention_summary(store: Store, retention: Retention | None) -> dict[str, Any]:
    """For the overview: ``{enabled, at, last}`` (``last``: :func:`last_retention`)."""
    return {"enabled": retention is not None, "at": retention.at if retention else None, "last": last_retention(store)}


def retention_line(summary: dict[str, Any] | None) -> str:
    """One line: whether retention is on, and what its last run deleted."""
    if not summary:
        return "Retention: n/a"
    state = (
        f"daily at {summary['at']}" if summary["enabled"] else "off (settings retention; or sc monitor cleanup by hand)"
    )
    last = summary.get("last")
    if not last:
        return f"Retention: {state}; never run"
    deleted = last.get("deleted") or {}
    keys = ("completed", "failed", "cancelled", "events", "old_events", "partials")
    counts = ", ".join(f"{k.replace('_', ' ')} {deleted.get(k, 0)}" for k in keys if k in deleted or k in keys[:4])
    return f"Retention: {state}; last run {last['period']} deleted {counts}"


def _total(lease: dict[str, Any], period: str, deleted: dict[str, int]) -> dict[str, Any]:
    before = lease.get("running") or {}
    sums = dict(before.get("deleted") or {}) if before.get("period") == period else {}
    for key, n in deleted.items():
        sums[key] = sums.get(key, 0) + n
    return {"period": period, "deleted": sums}


def _record(store: Store, lease: dict[str, Any], result: dict[str, Any]) -> None:
    store.insert_event(
        {
            "entity": "retention",
            "job_id": EVENT_KEY,
            "event": "retention",
            "period": result["period"],
            "deleted": result["deleted"],
            "done": result["done"],
            "at": result["at"],
            "actor": result["holder"],
        }
    )
