"""A job this service runs, from its claim to the durable write of its outcome."""

from __future__ import annotations

import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sccli.domain import JobStatus
from sccli.service.config import job_timeout_seconds
from sccli.service.launcher import Child


class AttemptState(str, Enum):
    """Where the supervisor is with one claimed job (in memory only, never stored)."""

    RUNNING = "running"
    STOPPING = "stopping"
    CLEANING = "cleaning"
    RECORDED = "recorded"


@dataclass
class RunningJob:
    """State of one claimed job.

    ``state``: running (the handler works) → stopping (killed for ``reason``) → cleaning (the
    handler's cleanup runs) → recorded (its outcome is queued as a durable write).
    ``reason``: why it was stopped: timeout, cancel, drain, shutdown or lease_lost.
    ``stall_seconds``: the type's ``stall_minutes``: past its time limit, the attempt runs on
    while its progress moves (see :attr:`deadline`).
    """

    job: dict[str, Any]
    started: float
    stall_seconds: float | None = None
    #: When the time limit started counting (the handler's start) and when progress last moved.
    clock_from: float = 0.0
    moved_at: float = 0.0
    child: Child | None = None
    state: AttemptState = AttemptState.RUNNING
    reason: str | None = None
    outcome: tuple[str, Any] | None = None
    exit_code: int | None = None
    pipe_open: bool = True
    kill_at: float | None = None
    lease_lost: bool = False
    progress: tuple[Any, Any] | None = None
    progress_dirty: bool = False
    progress_written: float = 0.0
    progress_inflight: bool = False
    cleanup: Child | None = None
    cleanup_deadline: float | None = None
    pending_signal: int | None = None
    error_kind: str = "error"
    promotions: list[tuple[int, str]] = field(default_factory=list)
    #: The ``logs`` entry of the ended attempt, written with its outcome (one write, not two).
    attempt_log: str | None = None

    def __post_init__(self) -> None:
        self.start_clock(self.started)

    def start_clock(self, now: float) -> None:
        """Count the time limit (and the time without progress) from ``now``."""
        self.clock_from = self.moved_at = now

    @property
    def limit(self) -> float:
        return job_timeout_seconds(self.job)

    @property
    def deadline(self) -> float:
        """When the attempt is stopped (the one place this is computed): its time limit after the
        handler started; for a type with ``stall_minutes``, later while its progress keeps moving,
        until it has not moved for that long."""
        hard = self.clock_from + self.limit
        return hard if self.stall_seconds is None else max(hard, self.moved_at + self.stall_seconds)

    @property
    def job_id(self) -> str:
        return str(self.job["job_id"])

    @property
    def token(self) -> str:
        return str(self.job["lease_token"])

    @property
    def job_type(self) -> str:
        return str(self.job["job_type"])

    @property
    def alive(self) -> bool:
        """The handler process has not ended yet."""
        return self.state in (AttemptState.RUNNING, AttemptState.STOPPING)

    def take_messages(self) -> None:
        """Read every message waiting on the child's pipe (never blocks)."""
        if self.child is None:
            return
        conn = self.child.conn
        while self.pipe_open:
            try:
                # select(), not conn.poll(): that builds a whole selector for each look
                if not select.select([conn], [], [], 0)[0]:
                    return
                message = conn.recv()
            except (EOFError, OSError):
                self.pipe_open = False
                conn.close()
                return
            if message[0] == "progress":
                if (message[1], message[2]) != self.progress:
                    self.moved_at = time.monotonic()
                self.progress = (message[1], message[2])
                self.progress_dirty = True
            elif message[0] == "may_promote":
                self.promotions.append((message[1], message[2]))
            elif message[0] in ("result", "error"):
                self.outcome = (message[0], message[1])
                if message[0] == "error" and len(message) > 2:
                    self.error_kind = str(message[2])

    def answer_promotion(self, number: int, allowed: bool) -> None:
        """Tell the child whether it may put its output in place (it may have ended meanwhile)."""
        if self.child is None or not self.pipe_open:
            return
        try:
            self.child.conn.send(("promote", number, allowed))
        except OSError:
            pass

    @property
    def may_promote(self) -> bool:
        """Still ours and still working: a stopped or re-queued attempt never promotes."""
        return self.state == AttemptState.RUNNING and not self.lease_lost


def promotion_check(queue: Any, job_id: str, token: str) -> bool:
    """The store side of a promotion question: a heartbeat fenced by the attempt's lease token
    (false when the job was re-queued or changed: the lease is lost)."""
    return bool(queue.heartbeat(job_id, token))


def attempt_summary(rj: RunningJob, host: str, code: int | None, last_lines: str) -> str:
    """The ``logs`` entry written at the end of an attempt: who ran it, how it ended, its last lines."""
    head = f"attempt {rj.job.get('attempts')} on {host} (pid {rj.child.pid if rj.child else '?'}) ended: {describe_exit(code)}"
    return f"{head}; last lines of its log:\n{last_lines}"[:4096] if last_lines else head


def describe_exit(code: int | None) -> str:
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def complete_once(queue: Any, job_id: str, token: str, result: dict[str, Any], actor: str, *,
                  log: str | None = None, claimed: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Complete a job (with the attempt's ``logs`` entry); when an earlier try wrote the job but
    the store failed before its follow-ups ran (they wait in the job's outbox), finish them
    (they are idempotent)."""
    done = queue.complete(job_id, token, result, actor=actor, log=log, claimed=claimed)
    if done is not None:
        return done  # type: ignore[no-any-return]
    current = queue.get_job(job_id)
    if current and current.get("status") == JobStatus.COMPLETED and current.get("lease_token") == token:
        queue.finish_followups(current)
        return current  # type: ignore[no-any-return]
    return None


def failure_of(rj: RunningJob, elapsed: float) -> tuple[str, str]:
    """The error kind and message of an attempt that did not complete."""
    if rj.reason == "timeout":
        limit = f"limit {rj.limit:.0f}s"
        if rj.deadline > rj.clock_from + rj.limit:  # it ran on past its limit while progress moved
            limit += f", then no progress for {rj.stall_seconds:.0f}s (stall_minutes)"
        return "timeout", f"timed out after {elapsed:.1f}s ({limit}); process group killed"
    if rj.outcome is not None:
        return rj.error_kind, str(rj.outcome[1])
    return "error", f"handler process ended without a result ({describe_exit(rj.exit_code)})"


def outcome_write(rj: RunningJob, what: str, actor: str, log_entry: Any, elapsed: float) -> tuple[Callable[[Any], Any], str]:
    """The queue call that records an attempt's outcome (``complete``, ``release``,
    ``cancelled`` or a failure), with its ``logs`` entry, and the words the service logs for it."""
    job_id, token, claimed = rj.job_id, rj.token, rj.job
    if what == "complete":
        result = rj.outcome[1] if rj.outcome else {}
        return (lambda q: complete_once(q, job_id, token, result, actor, log=log_entry, claimed=claimed)), f"completed in {elapsed:.2f}s"
    if what == "release":
        reason = "service draining" if rj.reason == "drain" else "service stopped"
        return (lambda q: q.release(job_id, token, reason=reason, actor=actor, log=log_entry)), f"stopped ({reason}); back to pending without using an attempt"
    if what == "cancelled":
        return (lambda q: q.mark_cancelled(job_id, token, actor=actor, log=log_entry)), "cancelled"
    kind, error = failure_of(rj, elapsed)
    return (lambda q: q.fail(job_id, token, error, kind=kind, actor=actor, log=log_entry, claimed=claimed)), f"failed ({kind}): {error}"
