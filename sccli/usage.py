"""What job attempts used, read from jobs' ``resources`` lists: rows to show and per-type figures.

Pure (no I/O). Each ended attempt (completed, failed or cancelled; not one given back by a drain)
appends one entry to its job's ``resources`` list (see docs/resources.md):
``{attempt, worker, cpu_seconds, user_seconds, system_seconds, peak_rss_bytes, read_bytes,
write_bytes, memory_limit_bytes}``; a figure that could not be measured is left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

#: Columns of the resources table (``sc job show``, the dashboard's job page).
ATTEMPT_COLUMNS = ["attempt", "cpu", "peak_memory", "read", "written", "limit", "worker"]


def human_bytes(n: float | None) -> str:
    """``1.2 GB``, ``350 MB``, ``12 kB`` (powers of 1024, one decimal below 10); ``-`` for None."""
    if n is None:
        return "-"
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= size:
            value = n / size
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{int(n)} B"


def seconds_text(value: float | None) -> str:
    """``0.55 s`` (``-`` for None)."""
    return "-" if value is None else f"{value:.2f} s"


def attempt_rows(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The job's ``resources`` entries as text cells, oldest attempt first."""
    return [{
        "attempt": entry.get("attempt"), "cpu": seconds_text(entry.get("cpu_seconds")),
        "peak_memory": human_bytes(entry.get("peak_rss_bytes")), "read": human_bytes(entry.get("read_bytes")),
        "written": human_bytes(entry.get("write_bytes")), "limit": human_bytes(entry.get("memory_limit_bytes")),
        "worker": entry.get("worker"),
    } for entry in job.get("resources") or [] if isinstance(entry, dict)]


def nearest_rank(values: list[float], p: int) -> float | None:
    """The nearest-rank ``p``-th percentile of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def by_type(jobs: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per job type, over the attempts recorded in ``jobs``: how many, and the p50/p95 of peak
    memory (bytes) and of CPU seconds."""
    peaks: dict[str, list[float]] = {}
    cpus: dict[str, list[float]] = {}
    for job in jobs:
        for entry in job.get("resources") or []:
            if not isinstance(entry, dict):
                continue
            job_type = str(job.get("job_type"))
            if isinstance(entry.get("peak_rss_bytes"), int | float):
                peaks.setdefault(job_type, []).append(float(entry["peak_rss_bytes"]))
            if isinstance(entry.get("cpu_seconds"), int | float):
                cpus.setdefault(job_type, []).append(float(entry["cpu_seconds"]))
    out = {}
    for job_type in sorted(set(peaks) | set(cpus)):
        memory, cpu = peaks.get(job_type, []), cpus.get(job_type, [])
        out[job_type] = {
            "attempts": max(len(memory), len(cpu)),
            "p50_peak_rss_bytes": _int(nearest_rank(memory, 50)), "p95_peak_rss_bytes": _int(nearest_rank(memory, 95)),
            "p50_cpu_seconds": _round(nearest_rank(cpu, 50)), "p95_cpu_seconds": _round(nearest_rank(cpu, 95)),
        }
    return out


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
