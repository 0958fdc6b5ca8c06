"""The performance report: per-type figures from the store, a per-day series and
recommendations (slow types, failure hot spots, long queues)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sccli import domain, usage
from sccli.clock import to_epoch
from sccli.figures import day_of
from sccli.monitor import tally
from sccli.store.base import JobQuery

#: A type is "slow" when its p95 duration uses more than this share of its timeout.
SLOW_SHARE_OF_TIMEOUT = 0.8
#: A type is a failure hot spot below this success rate, once it has this many finished jobs.
HOT_SPOT_SUCCESS_RATE = 0.9
HOT_SPOT_MIN_JOBS = 5
#: A queue is long with more ready jobs than this, or when its oldest ready job waited this long.
LONG_QUEUE_JOBS = 100
LONG_QUEUE_WAIT_SECONDS = 3600.0
#: Resource figures are read over this many of the window's most recently finished jobs: a
#: bounded sample (one indexed read, newest first), not folded into the day tallies.
RESOURCE_SAMPLE = 500


def round_seconds(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def success_rate(completed: int, failed: int) -> float:
    """Completed share of the jobs that completed or failed (cancelled jobs are left out); 0.0 when none."""
    return completed / (completed + failed) if completed + failed else 0.0


def type_row(stats: dict[str, Any]) -> dict[str, Any]:
    """One ``by_job_type`` entry of the report from the store's per-type figures."""
    return {
        "_id": stats["job_type"],
        "count": int(stats["count"]),
        "completed": int(stats["completed"] or 0),
        "failed": int(stats["failed"] or 0),
        "cancelled": int(stats["cancelled"] or 0),
        "success_rate": round(success_rate(int(stats["completed"] or 0), int(stats["failed"] or 0)), 4),
        "avg_duration": round_seconds(stats["avg_duration"]),
        "min_duration": round_seconds(stats["min_duration"]),
        "max_duration": round_seconds(stats["max_duration"]),
        "p50_duration": round_seconds(stats["p50_duration"]),
        "p95_duration": round_seconds(stats["p95_duration"]),
        "retries": int(stats["retries"] or 0),
        "timeouts": int(stats["timeouts"] or 0),
    }


def resource_rows(store: Any, start: datetime, now: datetime, limit: int = RESOURCE_SAMPLE) -> dict[str, Any]:
    """Per job type, p50/p95 of peak memory and CPU over the attempts recorded by the ``limit``
    jobs that finished last in ``[start, now)``; and how many jobs that sample held."""
    window = JobQuery(completed_after=start, completed_before=now)
    jobs = store.find_jobs(window, sort=(("completed_at", -1),), limit=limit, fields=("job_type", "resources"))
    rows = [{"job_type": job_type, **figures} for job_type, figures in usage.by_type(jobs).items()]
    return {"sampled_jobs": len(jobs), "sample_limit": limit, "by_job_type": rows}


def chart_start(now: datetime, days: int) -> datetime:
    """Midnight (UTC) of the first of the ``days`` calendar days ending today: the per-day series
    covers exactly ``days`` whole days, today included."""
    first = now.date() - timedelta(days=days - 1)
    return datetime(first.year, first.month, first.day, tzinfo=now.tzinfo)


def daily_series(rows: list[dict[str, Any]], start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The store's per-day counts with the days without jobs filled in as zeros."""
    by_day = {r["day"]: r for r in rows}
    out, day = [], start.date()
    last: date = end.date()
    while day <= last:
        key = day.isoformat()
        row = by_day.get(key, {})
        out.append(
            {
                "day": key, "completed": int(row.get("completed", 0)), "failed": int(row.get("failed", 0)),
                "cancelled": int(row.get("cancelled", 0)),
            }
        )
        day += timedelta(days=1)
    return out


def recommendations(by_type: list[dict[str, Any]], backlog: list[dict[str, Any]], now: datetime) -> list[str]:
    """Plain-language advice, most urgent kinds first."""
    advice: list[str] = []
    for row in by_type:
        finished = row["completed"] + row["failed"]
        if finished >= HOT_SPOT_MIN_JOBS and row["success_rate"] < HOT_SPOT_SUCCESS_RATE:
            advice.append(
                f"{row['_id']}: success rate {row['success_rate']:.1%} ({row['failed']} of {finished} failed); see `sc "
                f"monitor failed --type {row['_id']}`"
            )
    for row in by_type:
        limit = domain.job_type_config(row["_id"]).timeout_minutes * 60
        if row["p95_duration"] is not None and row["p95_duration"] > SLOW_SHARE_OF_TIMEOUT * limit:
            share = row["p95_duration"] / limit
            advice.append(
                f"{row['_id']}: p95 duration {row['p95_duration']:.0f}s is {share:.0%} of its {limit // 60}-minute "
                "timeout; raise timeout_minutes or look into slow runs"
            )
        if row["timeouts"]:
            advice.append(f"{row['_id']}: {row['timeouts']} attempts timed out")
    for row in backlog:
        oldest = row.get("oldest_created_at")
        wait = (now - oldest).total_seconds() if oldest else 0.0
        if row["ready"] > LONG_QUEUE_JOBS or (row["ready"] and wait > LONG_QUEUE_WAIT_SECONDS):
            advice.append(
                f"{row['job_type']}: {row['ready']} jobs ready to run, oldest waiting {wait / 3600:.1f} h; add "
                "services or slots for this type"
            )
    return advice


def build_report(store: Any, now: datetime, days: int) -> dict[str, Any]:
    """The contract's performance report over the ``days`` before ``now``."""
    start = now - timedelta(days=days)
    # One read for both: the window's days hold the per-day series' days (which start at a midnight).
    figures = tally.window_figures(store, start, now)
    by_type = [type_row(s) for s in tally.stats_rows(figures)]
    completed = sum(r["completed"] for r in by_type)
    failed = sum(r["failed"] for r in by_type)
    cancelled = sum(r["cancelled"] for r in by_type)
    backlog = store.stats.pending_backlog(now)
    return {
        "report_period": {"start": start, "end": now, "days": days},
        "summary": {
            "total_jobs": sum(r["count"] for r in by_type), "completed": completed, "failed": failed,
            "cancelled": cancelled, "success_rate": round(success_rate(completed, failed), 4),
            "job_types": len(by_type),
        },
        "by_job_type": by_type,
        "daily": daily_series(
            tally.daily_rows(figures, first_day=day_of(to_epoch(chart_start(now, days)))),
            chart_start(now, days),
            now,
        ),
        "backlog": backlog,
        "resources": resource_rows(store, start, now),
        "recommendations": recommendations(by_type, backlog, now),
    }
