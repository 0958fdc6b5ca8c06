"""Health rules (pure): the contract's thresholds turned into an overall status and issues."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

HEALTHY, WARNING, CRITICAL, UNKNOWN = "healthy", "warning", "critical", "unknown"
#: Monitoring-plugin (Nagios) exit code of each overall status.
CHECK_CODES = {HEALTHY: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3}
CHECK_WORDS = {HEALTHY: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}


def failure_rate(completed: int, failed: int) -> float:
    """Failed share of the jobs that ended (completed or failed); 0.0 when none did."""
    finished = completed + failed
    return failed / finished if finished else 0.0


def assess_health(
    *,
    completed_last_hour: int,
    failed_last_hour: int,
    stale_jobs: int,
    active_workers: int,
    ready_jobs: int,
    critical_rate: float,
    stale_warning: int,
    unserved: Sequence[dict[str, Any]] = (),
    unserved_warning_seconds: float = 120.0,
    unserved_critical_seconds: float = 900.0,
) -> dict[str, Any]:
    """``critical`` when the last hour's failure rate is above ``critical_rate`` or ready jobs of
    a type have had no live service serving it for longer than ``unserved_critical_seconds``;
    else ``warning`` when more than ``stale_warning`` jobs are stale or such a gap is longer than
    ``unserved_warning_seconds``; else ``healthy``.

    Issues name every rule that fired, plus (without changing the status) shorter gaps.
    ``unserved`` comes from :func:`sccli.monitor.coverage.unserved_types`.
    """
    rate = failure_rate(completed_last_hour, failed_last_hour)
    overall, issues = HEALTHY, []
    if rate > critical_rate:
        overall = CRITICAL
        issues.append(
            f"failure rate {rate:.1%} in the last hour ({failed_last_hour} of {completed_last_hour + failed_last_hour} "
            f"finished jobs) is above {critical_rate:.0%}"
        )
    if stale_jobs > stale_warning:
        overall = WARNING if overall == HEALTHY else overall
        issues.append(f"{stale_jobs} stale running jobs (more than {stale_warning}); see `sc monitor stale`")
    for gap in unserved:
        issues.append(
            f"{gap['ready']} {gap['job_type']} job(s) ready but no live service serves {gap['job_type']} (for "
            f"{gap['seconds']:.0f}s)"
        )
        if gap["seconds"] > unserved_critical_seconds:
            overall = CRITICAL
        elif gap["seconds"] > unserved_warning_seconds and overall == HEALTHY:
            overall = WARNING
    if ready_jobs and not active_workers and not unserved:
        issues.append(f"{ready_jobs} jobs are ready to run but no service is heartbeating")
    return {
        "overall": overall, "stale_jobs": stale_jobs, "failure_rate": round(rate, 4), "active_workers": active_workers,
        "issues": issues,
    }


def unknown_health(reason: str) -> dict[str, Any]:
    """The health of a store that could not be read."""
    return {"overall": UNKNOWN, "stale_jobs": None, "failure_rate": None, "active_workers": None, "issues": [reason]}


def check_line(health: dict[str, Any], critical_rate: float, stale_warning: int) -> str:
    """One monitoring-plugin status line with performance data (``label=value;warn;crit;min;max``)."""
    overall = health["overall"]
    word = CHECK_WORDS[overall]
    if overall == UNKNOWN:
        return f"SC QUEUE {word} - {'; '.join(health['issues'])}"
    summary = "; ".join(health["issues"]) or "no issues"
    perf = (
        f"failure_rate={health['failure_rate']:.4f};;{critical_rate:.4f};0;1 "
        f"stale_jobs={health['stale_jobs']};{stale_warning};;0; "
        f"active_workers={health['active_workers']};;;0;"
    )
    return f"SC QUEUE {word} - {overall}: {summary} | {perf}"
