"""Per-day figures of finished jobs: folding job rows into them, merging them, reading them out.

Pure (no I/O). A day is a UTC calendar day, numbered as whole days since the epoch. A day's
figures are, per job type: jobs by status, retries, timeouts, and the durations of completed jobs
as count, sum, exact min and max, and a histogram with buckets 1 % wide (log scale), from which
the percentiles are read: the reported p50/p95 is the geometric middle of the bucket holding the
nearest-rank value, clipped to [min, max], so within 0.5 % of the exact value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from sccli.domain import JobStatus

DAY_SECONDS = 86_400
#: A day's figures may be stored once the day ended this long ago (late writes land before).
SETTLE_SECONDS = 3_600
#: Width of a duration bucket: each is this factor wider than the one before.
BUCKET_BASE = 1.01
#: ln of the base: a duration's bucket is floor(ln(d) / LOG_BASE) (the same doubles in SQL).
LOG_BASE = math.log(BUCKET_BASE)
#: Bucket of durations <= 0 (clock steps): reads as 0.0.
ZERO_BUCKET = "z"
ENDED = (JobStatus.COMPLETED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value)
_COMPLETED = JobStatus.COMPLETED.value

#: One finished job as a store reads it: (job_type, status, completed_at epoch s, retries, duration s or None).
FinishedRow = tuple[str, str, float, int, float | None]
#: Timeout entries of one job: (job_type, completed_at epoch s, count).
TimeoutRow = tuple[str, float, int]
#: Figures of one day (or any span): job_type -> that type's figures.
Figures = dict[str, dict[str, Any]]


def day_of(epoch: float) -> int:
    """The UTC day number of an epoch time."""
    return int(epoch // DAY_SECONDS)


def settled(day: int, now_epoch: float) -> bool:
    """Whether ``day`` ended long enough before ``now`` for its figures to be stored."""
    return (day + 1) * DAY_SECONDS + SETTLE_SECONDS <= now_epoch


def bucket(duration: float) -> str:
    """The histogram bucket of a duration (a string: figures are stored as JSON)."""
    if duration <= 0:
        return ZERO_BUCKET
    return str(math.floor(math.log(duration) / LOG_BASE))


def bucket_value(key: str) -> float:
    """The value a bucket reads as: its geometric middle (0.0 for the zero bucket)."""
    if key == ZERO_BUCKET:
        return 0.0
    return float(BUCKET_BASE ** (int(key) + 0.5))


def empty() -> dict[str, Any]:
    """A job type's figures with nothing counted."""
    return {
        "count": 0, "by_status": {}, "retries": 0, "timeouts": 0, "dur_n": 0, "dur_sum": 0.0, "dur_min": None,
        "dur_max": None, "hist": {},
    }


def fold(rows: Iterable[FinishedRow], timeouts: Iterable[TimeoutRow]) -> dict[int, Figures]:
    """Job rows (and their timeout counts) folded into figures per day and job type."""
    days: dict[int, Figures] = {}
    for job_type, status, completed, retries, duration in rows:
        fig = days.setdefault(day_of(completed), {}).setdefault(job_type, empty())
        fig["count"] += 1
        fig["by_status"][status] = fig["by_status"].get(status, 0) + 1
        fig["retries"] += retries
        if duration is not None and status == _COMPLETED:
            _add_duration(fig, duration)
    for job_type, completed, n in timeouts:
        fig = days.setdefault(day_of(completed), {}).setdefault(job_type, empty())
        fig["timeouts"] += n
    return days


def add_group(
    fig: dict[str, Any], status: str, n: int, retries: int, dur_n: int, dur_sum: float, dur_min: float | None,
    dur_max: float | None,
) -> None:
    """Add a group of jobs of one status counted by a store (its durations' histogram apart)."""
    fig["count"] += n
    fig["by_status"][status] = fig["by_status"].get(status, 0) + n
    fig["retries"] += retries
    if dur_n and status == _COMPLETED:
        fig["dur_n"] += dur_n
        fig["dur_sum"] += dur_sum
        fig["dur_min"] = dur_min if fig["dur_min"] is None else min(fig["dur_min"], dur_min)
        fig["dur_max"] = dur_max if fig["dur_max"] is None else max(fig["dur_max"], dur_max)


def _add_duration(fig: dict[str, Any], duration: float) -> None:
    fig["dur_n"] += 1
    fig["dur_sum"] += duration
    fig["dur_min"] = duration if fig["dur_min"] is None else min(fig["dur_min"], duration)
    fig["dur_max"] = duration if fig["dur_max"] is None else max(fig["dur_max"], duration)
    key = bucket(duration)
    fig["hist"][key] = fig["hist"].get(key, 0) + 1


def merge(into: Figures, other: Figures, *, hist: bool = True) -> Figures:
    """Add ``other``'s figures to ``into`` (in place; returns ``into``)."""
    for job_type, fig in other.items():
        mine = into.setdefault(job_type, empty())
        for key in ("count", "retries", "timeouts", "dur_n", "dur_sum"):
            mine[key] += fig.get(key) or 0
        for status, n in (fig.get("by_status") or {}).items():
            mine["by_status"][status] = mine["by_status"].get(status, 0) + n
        for key, pick in (("dur_min", min), ("dur_max", max)):
            if fig.get(key) is not None:
                mine[key] = fig[key] if mine[key] is None else pick(mine[key], fig[key])
        if hist:
            for key, n in (fig.get("hist") or {}).items():
                mine["hist"][key] = mine["hist"].get(key, 0) + n
    return into


def percentile(fig: dict[str, Any], p_times_100: int) -> float | None:
    """The nearest-rank percentile of a type's completed durations, read from its histogram."""
    n = int(fig["dur_n"])
    if not n:
        return None
    rank = (p_times_100 * n + 99) // 100  # 1-based: ceil(p n)
    seen = 0
    for key in sorted(fig["hist"], key=_bucket_order):
        seen += fig["hist"][key]
        if seen >= rank:
            return min(max(bucket_value(key), fig["dur_min"]), fig["dur_max"])
    return float(fig["dur_max"])


def _bucket_order(key: str) -> float:
    return -math.inf if key == ZERO_BUCKET else int(key)


def stats_row(job_type: str, fig: dict[str, Any]) -> dict[str, Any]:
    """A type's figures in the shape of the store's ``finished_job_stats`` rows."""
    by_status = fig["by_status"]
    n = int(fig["dur_n"])
    return {
        "job_type": job_type, "count": int(fig["count"]), "completed": int(by_status.get(ENDED[0], 0)),
        "failed": int(by_status.get(ENDED[1], 0)), "cancelled": int(by_status.get(ENDED[2], 0)),
        "retries": int(fig["retries"]), "timeouts": int(fig["timeouts"]),
        "avg_duration": fig["dur_sum"] / n if n else None, "min_duration": fig["dur_min"],
        "max_duration": fig["dur_max"], "p50_duration": percentile(fig, 50), "p95_duration": percentile(fig, 95),
    }


def strip_hist(figures: Figures) -> Figures:
    """The figures without their histograms (what counts alone need)."""
    return {t: {k: v for k, v in fig.items() if k != "hist"} for t, fig in figures.items()}
