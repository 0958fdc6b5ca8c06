"""The queue's gauges for Prometheus, read from the store: one set for the whole fleet.

Served at the API's ``/metrics`` (and printed by ``sc monitor metrics`` for a textfile
collector). What each service did (attempts, finished jobs, run and wait times) are counters
and histograms that each service exports itself (:mod:`sccli.service.metrics`): Prometheus
``rate()``s and sums those over the fleet. Every label combination is present, at 0 when
nothing matches, so panels and ratios never see "no data"; health is one series whose value
says the state (0 healthy, 1 warning, 2 critical, 3 unknown).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sccli import __version__
from sccli.domain import JobStatus, ServiceState, is_live_service
from sccli.monitor.coverage import paused_job_types, serves
from sccli.monitor.health import CHECK_CODES
from sccli.store.base import JobQuery

if TYPE_CHECKING:
    from sccli.monitor.job_monitor import JobMonitor

#: ``scheduled`` when the store has that status (jobs waiting for a time); else only pending jobs not yet due.
_SCHEDULED = getattr(JobStatus, "SCHEDULED", None)


@dataclass
class QueueFigures:
    """What ``/metrics`` exports, read from the store at one moment."""

    types: list[str]
    by_status: dict[tuple[str, str], int] = field(default_factory=dict)
    ready: dict[str, int] = field(default_factory=dict)
    scheduled: dict[str, int] = field(default_factory=dict)
    oldest_ready_seconds: dict[str, float] = field(default_factory=dict)
    services_by_type: dict[str, int] = field(default_factory=dict)
    paused: dict[str, int] = field(default_factory=dict)
    live_services: int = 0
    stale_jobs: int = 0
    health: str = "unknown"
    retention_last_run: float | None = None


def read_figures(monitor: JobMonitor) -> QueueFigures:
    """The queue's figures: counts by status and type, backlog, services, stale jobs, health."""
    store, now = monitor.store, monitor.now()
    counts = {(str(r["status"]), str(r["job_type"])): int(r["count"]) for r in _status_counts(monitor)}
    types = sorted({*monitor.queue.known_types, *(t for _s, t in counts)})
    figures = QueueFigures(types=types, by_status=counts)
    for row in store.stats.pending_backlog(now):
        job_type = str(row["job_type"])
        figures.ready[job_type] = int(row["ready"])
        figures.scheduled[job_type] = int(row["pending"]) - int(row["ready"])
        if row["ready"]:
            figures.oldest_ready_seconds[job_type] = _oldest_ready_seconds(monitor, job_type, now)
    if _SCHEDULED is not None:
        for job_type in types:
            figures.scheduled[job_type] = figures.scheduled.get(job_type, 0) + counts.get(
                (_SCHEDULED.value, job_type), 0
            )
    stale_after = monitor.settings.stale_after_seconds
    live = [w for w in store.list_workers() if is_live_service(w, now, stale_after)]
    figures.live_services = len(live)
    serving = [w for w in live if w.get("status") != ServiceState.DRAINING]
    figures.services_by_type = {t: sum(1 for w in serving if serves(w, t)) for t in types}
    paused = paused_job_types(store)
    figures.paused = {t: int("*" in paused or t in paused) for t in types}
    health = monitor.get_health()
    figures.health, figures.stale_jobs = str(health["overall"]), int(health.get("stale_jobs") or 0)
    figures.retention_last_run = _retention_last_run(store)
    return figures


def _status_counts(monitor: JobMonitor) -> list[dict[str, Any]]:
    from sccli.monitor import tally

    return tally.status_type_counts(monitor.store)


def _oldest_ready_seconds(monitor: JobMonitor, job_type: str, now: datetime) -> float:
    """How long the oldest ready job of ``job_type`` has been due (from its ``run_after``)."""
    query = JobQuery(status=[JobStatus.PENDING.value], job_type=[job_type], run_after_before=now)
    found = monitor.store.find_jobs(query, sort=(("run_after", 1),), limit=1)
    due = found[0].get("run_after") if found else None
    return max(0.0, (now - due).total_seconds()) if isinstance(due, datetime) else 0.0


def _retention_last_run(store: Any) -> float | None:
    """When retention last ran (epoch seconds), from a store that records it (the capability
    ``last_retention_run() -> datetime | None``); None when it does not, or never ran."""
    reader = getattr(store, "last_retention_run", None)
    when = reader() if callable(reader) else None
    return when.timestamp() if isinstance(when, datetime) else None


def exposition(figures: QueueFigures) -> str:
    """The figures in the Prometheus text format (0.0.4), through ``prometheus_client``."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(figures))
    return generate_latest(registry).decode()


class _Collector:
    """A one-shot collector over figures already read (the registry asks ``collect``)."""

    def __init__(self, figures: QueueFigures) -> None:
        self.figures = figures

    def collect(self) -> Any:
        from prometheus_client.core import GaugeMetricFamily as G

        f, types = self.figures, self.figures.types
        jobs = G("sc_jobs", "Jobs in the store by status and type.", labels=["status", "job_type"])
        for status in JobStatus:
            for t in types:
                jobs.add_metric([status.value, t], f.by_status.get((status.value, t), 0))
        yield jobs
        yield _by_type(
            G("sc_jobs_ready", "Pending jobs that are due (may start now).", labels=["job_type"]), types, f.ready
        )
        yield _by_type(
            G(
                "sc_jobs_scheduled",
                "Jobs waiting for a later start (run_after ahead, or status scheduled).",
                labels=["job_type"],
            ),
            types,
            f.scheduled,
        )
        running = {t: f.by_status.get((JobStatus.RUNNING.value, t), 0) for t in types}
        yield _by_type(G("sc_jobs_running", "Running jobs by type.", labels=["job_type"]), types, running)
        yield _by_type(
            G(
                "sc_job_oldest_ready_age_seconds",
                "How long the oldest ready job has been due (0: none ready).",
                labels=["job_type"],
            ),
            types,
            f.oldest_ready_seconds,
        )
        yield _by_type(
            G("sc_type_live_services", "Live services (not draining) that serve the type.", labels=["job_type"]),
            types,
            f.services_by_type,
        )
        yield _by_type(
            G("sc_type_paused", "1 when the type is paused (sc queue pause), else 0.", labels=["job_type"]),
            types,
            f.paused,
        )
        yield G("sc_live_services", "Services heartbeating within stale_after_seconds.", value=f.live_services)
        yield G(
            "sc_stale_jobs",
            "Running jobs whose service or heartbeat is gone, or past their timeout.",
            value=f.stale_jobs,
        )
        yield G(
            "sc_health",
            "Overall health: 0 healthy, 1 warning, 2 critical, 3 unknown.",
            value=CHECK_CODES.get(f.health, 3),
        )
        if f.retention_last_run is not None:
            yield G(
                "sc_retention_last_run_timestamp_seconds",
                "When retention last ran (Unix time).",
                value=f.retention_last_run,
            )
        info = G("sc_build_info", "The sccli version serving these metrics (always 1).", labels=["version", "python"])
        info.add_metric([__version__, platform.python_version()], 1)
        yield info


def _by_type(family: Any, types: list[str], values: dict[str, Any]) -> Any:
    for t in types:
        family.add_metric([t], values.get(t, 0))
    return family


def queue_metrics_text(monitor: JobMonitor) -> str:
    """``/metrics`` and ``sc monitor metrics``: the queue's gauges, read now."""
    return exposition(read_figures(monitor))
