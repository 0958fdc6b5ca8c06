"""JobMonitor: the original SC_JobMonitor's API (names and shapes kept, times in seconds),
with every figure computed in the database by the store's monitoring queries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sccli.clock import utcnow
from sccli.domain import JOB_STATUS_VALUES, JobStatus, is_live_service
from sccli.errors import Conflict, NotFound, StoreUnavailable
from sccli.monitor import cleanup as cleanup_mod
from sccli.monitor import coverage, signatures, stale, tally
from sccli.monitor import health as health_mod
from sccli.monitor import report as report_mod
from sccli.monitor.retention import retention_summary
from sccli.settings import Settings
from sccli.store.base import JobQuery, Store

STATUSES = JOB_STATUS_VALUES
#: Windows of the overview's recent activity, durations and error summary.
RECENT_HOURS = 24
ERRORS_PER_TYPE = 5

if TYPE_CHECKING:  # the queue (lifecycle, follow-ups, plugins) is imported only when a write needs it
    from sccli.queue import JobQueue


def _as_store(client_or_store: Store | Any, db_name: str | None) -> Store:
    if isinstance(client_or_store, Store):  # the CLI's read commands: no need to import the queue
        return client_or_store
    from sccli.queue import as_store

    return as_store(client_or_store, db_name)


class JobMonitor:
    """Monitoring, statistics and administration of the job queue.

    ``JobMonitor(store)``, ``JobMonitor("sqlite:///path")`` and the original
    ``JobMonitor(MongoClient(url), "scientistcloud")`` all work. ``clock`` returns the current
    UTC time (tests pin it).
    """

    def __init__(
        self,
        client_or_store: Store | Any = None,
        db_name: str | None = None,
        *,
        settings: Settings | None = None,
        queue: JobQueue | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = queue.store if queue is not None else _as_store(client_or_store, db_name)
        self.settings = settings or Settings()
        self._queue = queue
        self.now = clock

    @property
    def queue(self) -> JobQueue:
        """The queue used for retries, cancels and stale recovery."""
        if self._queue is None:
            from sccli.queue import JobQueue

            self._queue = JobQueue.from_settings(self.store, self.settings)
        return self._queue

    # -- overview and health ----------------------------------------------------------------
    def get_queue_overview(self) -> dict[str, Any]:
        """Queue counts, health, recent activity, durations and error summary (one snapshot).

        When the store cannot be read the snapshot still comes back, with health ``unknown``.
        """
        now = self.now()
        try:
            return self._overview(now)
        except StoreUnavailable as exc:
            return {
                "timestamp": now, "queue_stats": _queue_stats([]),
                "health_status": health_mod.unknown_health(f"cannot read the store: {exc}"), "recent_activity": {},
                "performance_metrics": {"avg_duration_by_type": {}},
                "error_summary": {"by_job_type": [], "total_failures": 0}, "workers": [], "paused": {}, "limits": [],
            }

    def _overview(self, now: datetime) -> dict[str, Any]:
        since = now - timedelta(hours=RECENT_HOURS)
        workers = self.get_active_workers()
        stats = tally.finished_stats(self.store, since, now)
        return {
            "timestamp": now,
            "queue_stats": _queue_stats(tally.status_type_counts(self.store)),
            "health_status": self._health(now, len(workers)),
            "recent_activity": self.store.stats.activity_counts(since),
            "performance_metrics": {
                "avg_duration_by_type": {
                    s["job_type"]: report_mod.round_seconds(s["avg_duration"])
                    for s in stats
                    if s["avg_duration"] is not None
                }
            },
            "error_summary": _error_summary(signatures.merge_groups(self.store.stats.failure_groups(since))),
            "workers": workers,
            "paused": coverage.paused_job_types(self.store),
            "limits": coverage.type_limit_rows(self.store),
            "retention": retention_summary(self.store, self.settings.retention),
        }

    def get_health(self) -> dict[str, Any]:
        """The overview's ``health_status`` alone (``unknown`` when the store cannot be read)."""
        now = self.now()
        try:
            return self._health(now, len(self.get_active_workers()))
        except StoreUnavailable as exc:
            return health_mod.unknown_health(f"cannot read the store: {exc}")

    def _health(self, now: datetime, active_workers: int) -> dict[str, Any]:
        last_hour = self.store.count_jobs_by(
            "status",
            JobQuery(
                status=[JobStatus.COMPLETED.value, JobStatus.FAILED.value], completed_after=now - timedelta(hours=1)
            ),
        )
        ready = sum(b["ready"] for b in self.store.stats.pending_backlog(now))
        s = self.settings
        unserved = coverage.unserved_types(self.store, now, s.stale_after_seconds) if ready else []
        return health_mod.assess_health(
            completed_last_hour=last_hour.get(JobStatus.COMPLETED.value, 0),
            failed_last_hour=last_hour.get(JobStatus.FAILED.value, 0), stale_jobs=len(self._stale_docs(now)),
            active_workers=active_workers, ready_jobs=ready, critical_rate=s.health_failure_rate_critical,
            stale_warning=s.health_stale_warning, unserved=unserved,
            unserved_warning_seconds=s.check_no_service_warning_seconds,
            unserved_critical_seconds=s.check_no_service_critical_seconds,
        )

    def check(self) -> tuple[int, str]:
        """Monitoring-plugin result: (exit code 0/1/2/3, one status line)."""
        health = self.get_health()
        s = self.settings
        return health_mod.CHECK_CODES[health["overall"]], health_mod.check_line(
            health, s.health_failure_rate_critical, s.health_stale_warning
        )

    # -- jobs and workers -------------------------------------------------------------------
    def get_job_details(self, job_id: str) -> dict[str, Any] | None:
        """The job with its events, its dataset and its wait/run times in seconds; None if unknown."""
        from sccli.errors import InvalidInput, NotFound
        from sccli.jobids import job_detail

        try:
            return job_detail(self.store, job_id, self.settings.stale_after_seconds, explain=False, now=self.now())
        except (NotFound, InvalidInput):
            return None

    def get_active_workers(self) -> list[dict[str, Any]]:
        """Services whose heartbeat is fresher than ``stale_after_seconds`` and not stopped."""
        now = self.now()
        return [
            {
                **w, "heartbeat_age_seconds": _seconds(w["heartbeat_at"], now),
                "running_count": len(w.get("running_jobs") or []),
            }
            for w in self.store.list_workers()
            if is_live_service(w, now, self.settings.stale_after_seconds)
        ]

    def retry_failed_job(self, job_id: str) -> bool:
        """Put a failed (or cancelled) job back to pending; False when it cannot be."""
        try:
            self.queue.retry(job_id)
        except (NotFound, Conflict):
            return False
        return True

    def cancel_job(self, job_id: str) -> bool:
        """Cancel a pending job or ask the service to stop a running one; False when it cannot be."""
        try:
            self.queue.cancel(job_id)
        except (NotFound, Conflict):
            return False
        return True

    # -- stale ------------------------------------------------------------------------------
    def _stale_docs(self, now: datetime) -> list[dict[str, Any]]:
        return self.store.stats.stale_running_jobs(now, now - timedelta(seconds=self.settings.stale_after_seconds))

    def get_stale_jobs(self) -> list[dict[str, Any]]:
        """Running jobs whose service died, whose heartbeat stopped, or that ran past their timeout."""
        now = self.now()
        return [stale.describe(job, now) for job in self._stale_docs(now)]

    def requeue_stale_jobs(self, actor: str | None = None) -> list[dict[str, Any]]:
        """Recover every stale job now (fenced); returns ``{job_id, stale_reason, status}`` per job
        (status None when its lease changed meanwhile and it was left alone). ``actor`` defaults
        to the queue's (``cli:<user>@<host>``)."""
        out = []
        for job in self._stale_docs(self.now()):
            done = stale.recover(self.queue, job, actor or self.queue.actor)
            out.append(
                {
                    "job_id": job["job_id"], "stale_reason": job["stale_reason"],
                    "status": done["status"] if done else None,
                }
            )
        return out

    # -- failures ---------------------------------------------------------------------------
    def get_failed_jobs(self, hours: float = 24, limit: int = 1000) -> list[dict[str, Any]]:
        """Jobs that failed for good in the last ``hours``, newest first, with ``retry_available``,
        ``signature`` and the dataset's ``{name, user, status, sensor}``."""
        jobs = self.store.stats.failed_jobs_since(self.now() - timedelta(hours=hours), limit)
        for job in jobs:
            job["signature"] = signatures.error_signature(job.get("error"))
        return jobs

    def get_failure_groups(
        self, hours: float = 24, job_type: str | None = None, signature: str | None = None
    ) -> list[dict[str, Any]]:
        """Failures of the last ``hours`` grouped by type and error signature, largest first."""
        groups = signatures.merge_groups(self.store.stats.failure_groups(self.now() - timedelta(hours=hours)))
        return [
            g
            for g in groups
            if (job_type is None or g["job_type"] == job_type)
            and (signature is None or signatures.matches_signature(g, signature))
        ]

    def retry_failed_jobs(
        self, hours: float = 24, job_type: str | None = None, signature: str | None = None, dry_run: bool = False
    ) -> dict[str, Any]:
        """Retry every failed job of the selected groups; ``{retried, skipped, dry_run}``.

        Groups carry a capped list of example ids: rounds repeat until no failed job is left in
        them (each retried job leaves its group)."""
        groups = self.get_failure_groups(hours, job_type, signature)
        if dry_run:
            return {
                "retried": [i for g in groups for i in g["job_ids"]], "skipped": [], "dry_run": True,
                "jobs": sum(g["count"] for g in groups),
            }
        retried: list[str] = []
        skipped: list[dict[str, Any]] = []
        seen: set[str] = set()
        while True:
            ids = [i for g in groups for i in g["job_ids"] if i not in seen]
            if not ids:
                return {"retried": retried, "skipped": skipped, "dry_run": False}
            for job_id in ids:
                seen.add(job_id)
                try:
                    self.queue.retry(job_id)
                    retried.append(job_id)
                except (NotFound, Conflict) as exc:
                    skipped.append({"job_id": job_id, "reason": str(exc)})
            groups = self.get_failure_groups(hours, job_type, signature)

    # -- reports ----------------------------------------------------------------------------
    def get_performance_report(self, days: int = 7) -> dict[str, Any]:
        """Per-type counts, success rates, durations (avg/min/max/p50/p95 s), retries, timeouts,
        cancellations, a per-day series and recommendations over the last ``days``."""
        return report_mod.build_report(self.store, self.now(), days)

    def get_performance_metrics(self, hours: int = RECENT_HOURS) -> dict[str, Any]:
        """Durations, throughput, queue and health figures (``sc monitor metrics``)."""
        now = self.now()
        rows = [report_mod.type_row(s) for s in tally.finished_stats(self.store, now - timedelta(hours=hours), now)]
        queue: dict[str, dict[str, int]] = {}
        for row in tally.status_type_counts(self.store):
            queue.setdefault(row["status"], {})[str(row["job_type"])] = row["count"]
        backlog = {
            b["job_type"]: {
                "pending": b["pending"], "ready": b["ready"],
                "oldest_wait_seconds": _seconds(b["oldest_created_at"], now),
            }
            for b in self.store.stats.pending_backlog(now)
        }
        return {
            "timestamp": now,
            "window_hours": hours,
            "avg_duration_by_type": {r["_id"]: r["avg_duration"] for r in rows if r["avg_duration"] is not None},
            "p50_duration_by_type": {r["_id"]: r["p50_duration"] for r in rows if r["p50_duration"] is not None},
            "p95_duration_by_type": {r["_id"]: r["p95_duration"] for r in rows if r["p95_duration"] is not None},
            "finished_by_type": {
                r["_id"]: {k: r[k] for k in ("completed", "failed", "cancelled", "retries", "timeouts")} for r in rows
            },
            "success_rate_by_type": {r["_id"]: r["success_rate"] for r in rows if r["completed"] + r["failed"]},
            "queue": queue,
            "backlog": backlog,
            "health": self._health(now, len(self.get_active_workers())),
        }

    # -- maintenance ------------------------------------------------------------------------
    def cleanup_old_data(
        self, days: int = 30, *, dry_run: bool = False, progress: cleanup_mod.Progress | None = None,
        log_files: bool = True,
    ) -> dict[str, Any]:
        """Delete completed and cancelled jobs older than ``days`` and failed ones older than
        ``2*days`` (by completed_at) with their events and their log files in the settings'
        ``log_dir`` (``log_files=False``: leave and do not count them); never pending or running jobs."""
        log_dir = self.settings.log_dir if log_files else None
        return cleanup_mod.cleanup(self.store, self.now(), days, dry_run=dry_run, progress=progress, log_dir=log_dir)

    def sweep_partials(self, *, dry_run: bool = False) -> dict[str, Any]:
        """Remove (``dry_run``: count) the orphaned partial outputs in the data directories whose
        job has ended: ``{partials_removed, partials_failed, partial_error}``."""
        from sccli.monitor.partials import sweep_partials

        swept = sweep_partials(self.store, self.settings.data_dirs, dry_run=dry_run)
        return {"partials_removed": swept.found if dry_run else swept.removed, "partials_failed": swept.failed,
                "partial_error": swept.first_error}


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else round((end - start).total_seconds(), 3)


def _queue_stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_status = {s: 0 for s in STATUSES}
    job_types: dict[str, int] = {}
    for row in rows:
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["count"]
        job_types[str(row["job_type"])] = job_types.get(str(row["job_type"]), 0) + row["count"]
    stats: dict[str, Any] = {"total_jobs": sum(by_status.values())}
    stats.update({f"{s}_jobs": by_status[s] for s in STATUSES})
    stats["job_types"] = dict(sorted(job_types.items()))
    return stats


def _error_summary(groups: list[dict[str, Any]]) -> dict[str, Any]:
    by_type: dict[str, dict[str, Any]] = {}
    for group in groups:
        entry = by_type.setdefault(group["job_type"], {"_id": group["job_type"], "count": 0, "errors": []})
        entry["count"] += group["count"]
        if len(entry["errors"]) < ERRORS_PER_TYPE:
            entry["errors"].append(group["signature"])
    ranked = sorted(by_type.values(), key=lambda e: (-e["count"], e["_id"]))
    return {"by_job_type": ranked, "total_failures": sum(e["count"] for e in ranked)}
