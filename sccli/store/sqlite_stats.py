"""SQLite side of the monitoring queries: SQL, each from an indexed WHERE (most read indexes only).

``store.stats`` of :class:`~sccli.store.sqlite.SqliteStore` (the contract is
:class:`~sccli.store.contract_monitor.MonitorContract`). Times are epoch seconds in the indexed columns,
so durations are plain subtractions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sccli.clock import from_epoch, to_epoch
from sccli.domain import JobStatus, ServiceState
from sccli.store import codec
from sccli.store.contract_monitor import MonitorContract


def _lit(value: JobStatus | ServiceState) -> str:
    """A status as an SQL string literal (kept literal so partial indexes and plans still match)."""
    return f"'{value.value}'"



_IN_STATUSES = f"status IN ({','.join(_lit(s) for s in JobStatus)})"
#: Completed, failed and cancelled counts of a group, in that order.
_ENDED_SUMS = (
    f"SUM(status = {_lit(JobStatus.COMPLETED)}), SUM(status = {_lit(JobStatus.FAILED)}), SUM(status = "
    f"{_lit(JobStatus.CANCELLED)})"
)
_DURATION = f"CASE WHEN status = {_lit(JobStatus.COMPLETED)} THEN completed_at - started_at END"
#: The partial index ``ix_jobs_timed_out`` holds only jobs whose errors mention a timeout; this
#: term (the index's WHERE, verbatim) lets the planner use it, so the rest are never read.
TIMED_OUT = "instr(doc, '\"kind\":\"timeout\"') > 0"
# Window queries name every job type (``job_type IN (...)``) so they run as one range per type
# over the covering index ix_jobs_type_finished(job_type, completed_at, status, started_at,
# attempts); ``+status`` keeps the planner off (status, ...) indexes that would read table rows.
_WINDOW = "job_type IN ({types}) AND completed_at >= ? AND completed_at < ?"


def _types_sql(jobs: str) -> str:
    """Distinct job types by skipping through the index: one seek per type, not a scan."""
    return f"""WITH RECURSIVE t(job_type) AS (
        SELECT MIN(job_type) FROM {jobs}
        UNION ALL SELECT (SELECT MIN(job_type) FROM {jobs} WHERE job_type > t.job_type) FROM t
        WHERE t.job_type IS NOT NULL)
        SELECT job_type FROM t WHERE job_type IS NOT NULL"""


def _totals_sql(jobs: str, types: str) -> str:
    return f"""SELECT job_type, COUNT(*), {_ENDED_SUMS},
        SUM(MAX(attempts - 1, 0)), AVG({_DURATION}), MIN({_DURATION}), MAX({_DURATION}), COUNT({_DURATION})
        FROM {jobs} WHERE {_WINDOW.format(types=types)} GROUP BY job_type ORDER BY job_type"""


def _nth_duration_sql(jobs: str) -> str:
    """The completed duration of one type at a 0-based rank (a bounded sort of that type's window)."""
    return f"""SELECT completed_at - started_at AS d FROM {jobs}
        WHERE job_type = ? AND completed_at >= ? AND completed_at < ? AND +status = {_lit(JobStatus.COMPLETED)}
        AND started_at IS NOT NULL
        ORDER BY d LIMIT 1 OFFSET ?"""


def _timeouts_sql(jobs: str) -> str:
    return f"""SELECT job_type,
        SUM((SELECT COUNT(*) FROM json_each(doc, '$.errors') WHERE json_extract(value, '$.kind') = 'timeout'))
        FROM {jobs} WHERE completed_at >= ? AND completed_at < ? AND {TIMED_OUT} GROUP BY job_type"""


def nearest_rank(p_times_100: int, n: int) -> int:
    """0-based position of percentile p among n sorted values: ceil(p n) - 1, in integers."""
    return (p_times_100 * n + 99) // 100 - 1


class SqliteStats(MonitorContract):
    """Monitoring queries on SQLite, handed the store's read helper and table names."""

    def __init__(self, read: Callable[..., list[sqlite3.Row]], names: dict[str, str]) -> None:
        self._read = read
        self.names = names

    def job_status_type_counts(self) -> list[dict[str, Any]]:
        sql = f"SELECT status, job_type, COUNT(*) FROM {self.names['jobs']} GROUP BY status, job_type"
        return [{"status": s, "job_type": t, "count": int(n)} for s, t, n in self._read(sql)]

    def activity_counts(self, since: datetime) -> dict[str, int]:
        # status IN (...) lets the (status, updated_at) index serve the range.
        sql = (
            f"SELECT status, COUNT(*) FROM {self.names['jobs']} WHERE {_IN_STATUSES} AND "
            "updated_at >= ? GROUP BY status"
        )
        return {s: int(n) for s, n in self._read(sql, (to_epoch(since),))}

    def _job_types(self) -> list[str]:
        return [r[0] for r in self._read(_types_sql(self.names["jobs"]))]

    def _window(self, since: datetime, until: datetime) -> tuple[str, list[Any]]:
        types = self._job_types()
        return ",".join("?" * len(types)), [*types, to_epoch(since), to_epoch(until)]

    def finished_job_stats(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        jobs = self.names["jobs"]
        marks, params = self._window(since, until)
        if not marks:  # no jobs at all
            return []
        keys = (
            "job_type", "count", "completed", "failed", "cancelled", "retries", "avg_duration", "min_duration",
            "max_duration",
        )
        rows, durations = {}, {}
        for r in self._read(_totals_sql(jobs, marks), params):
            rows[r[0]] = dict(zip(keys, r[:9], strict=True))
            durations[r[0]] = int(r[9])
        window = (to_epoch(since), to_epoch(until))
        timeouts: dict[str, int] = {str(t): int(n) for t, n in self._read(_timeouts_sql(jobs), window)}
        for job_type, row in rows.items():
            n = durations[job_type]
            for key, p in (("p50_duration", 50), ("p95_duration", 95)):
                row[key] = (
                    self._read(_nth_duration_sql(jobs), (job_type, *window, nearest_rank(p, n)))[0][0] if n else None
                )
            row["timeouts"] = int(timeouts.get(job_type) or 0)
        return list(rows.values())

    def finished_job_daily(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        # Whole days since the epoch are UTC days; only the grouped rows are turned into dates.
        marks, params = self._window(since, until)
        if not marks:
            return []
        sql = f"""SELECT date(day * 86400, 'unixepoch'), {_ENDED_SUMS}
                  FROM (SELECT CAST(completed_at / 86400 AS INTEGER) AS day, status FROM {self.names['jobs']}
                        WHERE {_WINDOW.format(types=marks)})
                  GROUP BY day ORDER BY day"""
        return [
            {"day": d, "completed": int(c), "failed": int(f), "cancelled": int(x)}
            for d, c, f, x in self._read(sql, params)
        ]

    def failed_jobs_since(self, since: datetime, limit: int = 1000) -> list[dict[str, Any]]:
        sql = f"""SELECT j.doc, j.attempts < j.max_attempts, d.uuid, json_extract(d.doc, '$.name'),
                  json_extract(d.doc, '$.user'), d.status, json_extract(d.doc, '$.sensor')
                  FROM {self.names["jobs"]} j LEFT JOIN {self.names["datasets"]} d ON d.uuid = j.dataset_uuid
                  WHERE j.status = {_lit(JobStatus.FAILED)} AND j.completed_at >= ?
                  ORDER BY j.completed_at DESC LIMIT ?"""
        out = []
        for doc, retry, uuid, name, user, status, sensor in self._read(sql, (to_epoch(since), int(limit))):
            job = codec.loads(doc)
            job["retry_available"] = bool(retry)
            job["dataset"] = None if uuid is None else {"name": name, "user": user, "status": status, "sensor": sensor}
            out.append(job)
        return out

    def failure_groups(self, since: datetime) -> list[dict[str, Any]]:
        sql = f"""SELECT job_type, json_extract(doc, '$.error') AS error, COUNT(*), MIN(completed_at),
                  MAX(completed_at), SUM(attempts < max_attempts), json_group_array(job_id)
                  FROM {self.names["jobs"]} WHERE status = {_lit(JobStatus.FAILED)} AND completed_at >= ?
                  GROUP BY job_type, error ORDER BY COUNT(*) DESC, job_type"""
        out = []
        for job_type, error, n, first, last, retry, ids in self._read(sql, (to_epoch(since),)):
            out.append({
                "job_type": job_type, "error": error, "count": int(n), "first_seen": from_epoch(first),
                "last_seen": from_epoch(last), "retry_available": int(retry), "job_ids": codec.loads(ids),
            })
        return out

    def stale_running_jobs(self, now: datetime, cutoff: datetime) -> list[dict[str, Any]]:
        jobs, workers = self.names["jobs"], self.names["workers"]
        sql = f"""SELECT doc, reason FROM (
            SELECT j.doc AS doc, j.heartbeat_at AS beat, CASE
                WHEN w.worker_id IS NULL OR w.heartbeat_at IS NULL OR w.heartbeat_at < :cut
                     OR json_extract(w.doc, '$.status') = {_lit(ServiceState.STOPPED)} THEN 'service_dead'
                WHEN j.heartbeat_at IS NULL OR j.heartbeat_at < :cut THEN 'job_silent'
                WHEN j.started_at + 60.0 * json_extract(j.doc, '$.timeout_minutes') < :now THEN 'over_timeout'
                END AS reason
            FROM {jobs} j LEFT JOIN {workers} w ON w.worker_id = j.worker_id WHERE j.status = {_lit(JobStatus.RUNNING)})
            WHERE reason IS NOT NULL ORDER BY beat ASC"""
        out = []
        for doc, reason in self._read(sql, {"cut": to_epoch(cutoff), "now": to_epoch(now)}):
            job = codec.loads(doc)
            job["stale_reason"] = reason
            out.append(job)
        return out

    def pending_backlog(self, now: datetime) -> list[dict[str, Any]]:
        sql = f"""SELECT job_type, COUNT(*), SUM(run_after <= ?), MIN(created_at) FROM {self.names['jobs']}
                  WHERE status = {_lit(JobStatus.PENDING)} GROUP BY job_type ORDER BY job_type"""
        return [
            {"job_type": t, "pending": int(n), "ready": int(r), "oldest_created_at": from_epoch(o)}
            for t, n, r, o in self._read(sql, (to_epoch(now),))
        ]

    def finished_job_ids(self, status: str, before: datetime, limit: int) -> list[str]:
        sql = (
            f"SELECT job_id FROM {self.names['jobs']} WHERE status = ? AND completed_at < ? "
            "ORDER BY completed_at LIMIT ?"
        )
        return [r[0] for r in self._read(sql, (status, to_epoch(before), int(limit)))]
