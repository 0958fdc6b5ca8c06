"""What a service says about each ended attempt: one log line (levelled by outcome) and its metrics.

A failure that will be retried is logged at ``warning``, a job failed for good at ``error`` (so
a log alert at warning sees every failure); both carry structured fields for ``--log-json``:
job_id, job_type, outcome, kind, attempt, duration_s, worker_id. The outcome is the store's
answer (the job it returned), not a guess: the store decides whether attempts remain.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sccli.domain import JobStatus
from sccli.errors import Conflict

if TYPE_CHECKING:
    from sccli.service.config import ServiceOptions
    from sccli.service.metrics import ServiceMetrics
    from sccli.settings import Settings

log = logging.getLogger("sccli.service")

#: Seconds between two writes of the metrics textfile.
TEXTFILE_INTERVAL = 5.0


@dataclass(frozen=True)
class AttemptNote:
    """An attempt whose outcome was queued for the store: what the log line and metrics need."""

    job_id: str
    job_type: str
    what: str  # complete, fail, cancelled or release (the write)
    note: str  # e.g. "completed in 1.20s", "failed (timeout): ..."
    kind: str  # the error kind of a failure, "none" otherwise
    attempt: int
    max_attempts: Any
    pid: Any
    duration_s: float


def attempt_outcome(what: str, result: Any) -> str:
    """The outcome of a recorded write (``complete``, ``fail``, ``cancelled``, ``release``) from the
    job the store returned (None: the lease was lost): completed, retried, failed, cancelled,
    released or lost (:data:`sccli.service.metrics.ATTEMPT_KINDS`)."""
    if result is None:
        return "lost"
    if what == "fail":
        return "failed" if str(result.get("status")) == JobStatus.FAILED.value else "retried"
    return {"complete": "completed", "cancelled": "cancelled", "release": "released"}[what]


def _level(outcome: str) -> int:
    return {"failed": logging.ERROR, "retried": logging.WARNING, "lost": logging.WARNING}.get(outcome, logging.INFO)


class OutcomeReporter:
    """Logs each recorded attempt and counts it in the service's metrics (when they are exported)."""

    def __init__(self, worker_id: str, metrics: ServiceMetrics | None = None, textfile: str | None = None) -> None:
        self.worker_id = worker_id
        self.metrics = metrics
        self.textfile = textfile
        self._stop = threading.Event()

    @classmethod
    def for_service(
        cls, worker_id: str, settings: Settings, options: ServiceOptions, types: list[str]
    ) -> OutcomeReporter:
        """The reporter of ``sc service run``: with metrics when a port or a textfile is set.
        A port that is taken is refused with one line (:class:`~sccli.errors.Conflict`)."""
        port = options.metrics_port or settings.metrics_port
        if not port and not settings.metrics_textfile:
            return cls(worker_id)
        from sccli.service.metrics import ServiceMetrics

        metrics = ServiceMetrics(types)
        if port:
            try:
                metrics.serve(port)
            except OSError as exc:
                raise Conflict(f"cannot serve metrics on port {port}: {exc.strerror or exc}") from None
        reporter = cls(worker_id, metrics, settings.metrics_textfile)
        if reporter.textfile:
            threading.Thread(target=reporter._write_loop, name="sc-metrics-textfile", daemon=True).start()
        return reporter

    def started(self, job: dict[str, Any]) -> None:
        """A claimed job starts (its wait time is observed)."""
        if self.metrics is not None:
            self.metrics.started(job)

    def recorded(self, note: AttemptNote, result: Any, error: BaseException | None) -> None:
        """The store answered the attempt's outcome write: log it at its level and count it."""
        extra: dict[str, Any] = {"job_id": note.job_id, "job_type": note.job_type, "worker_id": self.worker_id}
        if error is not None:
            log.error("job %s: %s not recorded: %s", note.job_id, note.what, error, extra=extra)
            return
        outcome = attempt_outcome(note.what, result)
        extra.update(outcome=outcome, kind=note.kind, attempt=note.attempt, duration_s=round(note.duration_s, 3))
        if outcome == "lost":
            log.warning("job %s: %s not recorded: the job was changed by someone else (lease lost)",
                        note.job_id, note.what, extra=extra)
        else:
            after = {"retried": "; will be retried", "failed": "; failed for good"}.get(outcome, "")
            log.log(_level(outcome), "job %s (%s) %s (attempt %s of %s, pid %s)%s", note.job_id, note.job_type,
                    note.note, note.attempt, note.max_attempts, note.pid, after, extra=extra)
        if self.metrics is not None:
            from sccli.service.metrics import AttemptEnd

            self.metrics.ended(AttemptEnd(note.job_type, outcome, note.kind, note.duration_s))

    def recovered(self, job: dict[str, Any]) -> None:
        """This service's sweeper recovered a stale job of a dead service: back to pending (warning)
        or failed for good with its attempts used up (error); counted as an attempt of kind ``stale``."""
        outcome = "failed" if str(job.get("status")) == JobStatus.FAILED.value else "retried"
        extra = {"job_id": job["job_id"], "job_type": job["job_type"], "worker_id": self.worker_id, "outcome": outcome,
                 "kind": "stale", "attempt": job.get("attempts")}
        log.log(_level(outcome), "recovered stale job %s (%s) of %s: now %s", job["job_id"], job["job_type"],
                job.get("worker_id"), job.get("status"), extra=extra)
        if self.metrics is not None:
            from sccli.service.metrics import AttemptEnd

            self.metrics.ended(AttemptEnd(str(job["job_type"]), outcome, "stale", None))

    def close(self) -> None:
        """The service stops: the textfile gets its last figures."""
        self._stop.set()
        if self.metrics is not None and self.textfile:
            self.metrics.write_textfile(self.textfile)

    def _write_loop(self) -> None:
        assert self.metrics is not None and self.textfile
        while True:
            self.metrics.write_textfile(self.textfile)
            if self._stop.wait(TEXTFILE_INTERVAL):
                return
