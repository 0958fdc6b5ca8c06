"""What one service counts for Prometheus: attempts, finished jobs, run and wait times.

Each service exports its own counters and histograms (``sc service run --metrics-port N``, or
the ``metrics_textfile`` setting for node_exporter's textfile collector); Prometheus sums them
over the fleet (``sum by (job_type) (rate(sc_jobs_finished_total[5m]))``). Queue-level gauges
come from the store at the API's ``/metrics`` (:mod:`sccli.monitor.metrics`), once for the fleet.

``prometheus_client`` is imported here only: never on the CLI's fast paths.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server, write_to_textfile

from sccli.domain import ErrorKind

log = logging.getLogger("sccli.service")

#: Attempt outcomes and the error kinds each can carry (every pair is exported from the start, at 0).
ATTEMPT_KINDS: dict[str, tuple[str, ...]] = {
    "completed": ("none",),
    "retried": tuple(k.value for k in ErrorKind if k.retryable),
    "failed": tuple(k.value for k in ErrorKind),
    "cancelled": ("none",),
    "released": ("none",),
    "lost": ("none",),
}
#: How a job ended for good on this service.
FINISHED_OUTCOMES = ("completed", "failed", "cancelled")
#: Seconds: from a second (small conversions) to a day (large syncs).
RUN_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
#: Seconds from due (``run_after``) to start: pickup latency up to a day of backlog.
WAIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400)


@dataclass(frozen=True)
class AttemptEnd:
    """One ended attempt, as counted: its type, outcome (see :data:`ATTEMPT_KINDS`), error kind, run time."""

    job_type: str
    outcome: str
    kind: str
    run_seconds: float | None  # None: not known (a stale attempt of a dead service)


class ServiceMetrics:
    """The counters and histograms of one service, in a registry of their own."""

    def __init__(self, types: list[str]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.finished = Counter(
            "sc_jobs_finished",
            "Jobs this service ended for good, by type and outcome.",
            ["job_type", "outcome"],
            registry=self.registry,
        )
        self.attempts = Counter(
            "sc_job_attempts",
            "Attempts this service ended, by type, outcome and error kind.",
            ["job_type", "outcome", "kind"],
            registry=self.registry,
        )
        self.run_seconds = Histogram(
            "sc_job_run_seconds",
            "Run time of an attempt, from its start to its end.",
            ["job_type"],
            buckets=RUN_BUCKETS,
            registry=self.registry,
        )
        self.wait_seconds = Histogram(
            "sc_job_wait_seconds",
            "Time a job waited from due (run_after) to its start.",
            ["job_type"],
            buckets=WAIT_BUCKETS,
            registry=self.registry,
        )
        for job_type in types:
            self.add_type(job_type)

    def add_type(self, job_type: str) -> None:
        """Create every series of ``job_type`` at 0, so panels and ratios never see "no data"."""
        for outcome in FINISHED_OUTCOMES:
            self.finished.labels(job_type, outcome)
        for outcome, kinds in ATTEMPT_KINDS.items():
            for kind in kinds:
                self.attempts.labels(job_type, outcome, kind)
        self.run_seconds.labels(job_type)
        self.wait_seconds.labels(job_type)

    def started(self, job: dict[str, Any]) -> None:
        """A claimed job started: observe how long it waited since it was due."""
        due, start = job.get("run_after"), job.get("started_at")
        if isinstance(due, datetime) and isinstance(start, datetime):
            self.wait_seconds.labels(str(job.get("job_type"))).observe(max(0.0, (start - due).total_seconds()))

    def ended(self, end: AttemptEnd) -> None:
        """An attempt ended (its outcome recorded): count it, and the job when it ended for good."""
        self.attempts.labels(end.job_type, end.outcome, end.kind).inc()
        if end.run_seconds is not None:
            self.run_seconds.labels(end.job_type).observe(max(0.0, end.run_seconds))
        if end.outcome in FINISHED_OUTCOMES:
            self.finished.labels(end.job_type, end.outcome).inc()

    def serve(self, port: int, host: str = "") -> None:
        """Answer ``GET /metrics`` on ``host:port`` from a daemon thread (the whole service's life)."""
        start_http_server(port, addr=host or "0.0.0.0", registry=self.registry)
        log.info("metrics served at http://%s:%d/metrics", host or "0.0.0.0", port)

    def write_textfile(self, path: str) -> None:
        """Write the metrics for node_exporter's textfile collector (atomically: a temp file renamed)."""
        try:
            write_to_textfile(path, self.registry)
        except OSError as exc:  # a full disk or a removed directory costs the metrics, never the jobs
            log.warning("could not write metrics to %s: %s", path, exc.strerror or exc)

