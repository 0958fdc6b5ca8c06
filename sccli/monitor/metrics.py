"""Prometheus text exposition (format 0.0.4) of the monitor's metrics."""

from __future__ import annotations

from typing import Any

from sccli.domain import TERMINAL_STATUSES
from sccli.monitor.health import CHECK_CODES

#: The final statuses, each a column of the finished-by-type rows.
_ENDED = tuple(s.value for s in TERMINAL_STATUSES)


def _escape(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, Any]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


class _Exposition:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, help_text: str, samples: list[tuple[dict[str, Any], Any]]) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} gauge")
        for labels, value in samples:
            if value is not None:
                self.lines.append(f"{name}{_labels(labels)} {_number(value)}")


def _number(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def to_prometheus(metrics: dict[str, Any]) -> str:
    """Every figure of :meth:`JobMonitor.get_performance_metrics` as gauges prefixed ``sc_``."""
    out = _Exposition()
    window = f"{metrics['window_hours']}h"
    out.family("sc_jobs", "Jobs in the store by status and type.",
               [({"status": s, "job_type": t}, n) for s, by_type in sorted(metrics["queue"].items()) for t, n in sorted(by_type.items())])
    finished = metrics["finished_by_type"]
    out.family("sc_jobs_finished", "Jobs that ended in the window by type and final status.",
               [({"job_type": t, "status": s, "window": window}, row[s]) for t, row in sorted(finished.items()) for s in _ENDED])
    durations = []
    for t in sorted(finished):
        durations += [({"job_type": t, "quantile": "0.5", "window": window}, metrics["p50_duration_by_type"].get(t)),
                      ({"job_type": t, "quantile": "0.95", "window": window}, metrics["p95_duration_by_type"].get(t))]
    out.family("sc_job_duration_seconds", "Duration of completed jobs (nearest-rank quantiles).", durations)
    out.family("sc_job_duration_seconds_avg", "Average duration of completed jobs.",
               [({"job_type": t, "window": window}, v) for t, v in sorted(metrics["avg_duration_by_type"].items())])
    out.family("sc_job_success_ratio", "Completed share of completed and failed jobs.",
               [({"job_type": t, "window": window}, v) for t, v in sorted(metrics["success_rate_by_type"].items())])
    backlog = metrics["backlog"]
    out.family("sc_jobs_ready", "Pending jobs whose run_after has passed.", [({"job_type": t}, b["ready"]) for t, b in sorted(backlog.items())])
    out.family("sc_job_oldest_pending_seconds", "Age of the oldest pending job.", [({"job_type": t}, b["oldest_wait_seconds"]) for t, b in sorted(backlog.items())])
    health = metrics["health"]
    out.family("sc_stale_jobs", "Running jobs whose service or heartbeat is gone, or past their timeout.", [({}, health["stale_jobs"])])
    out.family("sc_active_workers", "Services heartbeating within stale_after_seconds.", [({}, health["active_workers"])])
    out.family("sc_failure_ratio_last_hour", "Failed share of the jobs that ended in the last hour.", [({}, health["failure_rate"])])
    out.family("sc_health", "Overall health: 0 healthy, 1 warning, 2 critical, 3 unknown.", [({"status": health["overall"]}, CHECK_CODES[health["overall"]])])
    return "\n".join(out.lines) + "\n"
