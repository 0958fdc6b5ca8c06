"""A job this service runs, from its claim to the durable write of its outcome."""

from __future__ import annotations

import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sccli.domain import JobStatus
from sccli.service import protocol
from sccli.service.config import job_timeout_seconds
from sccli.service.launcher import Child
from sccli.service.protocol import Failure, MayPromote, Outcome, Progress, ProtocolError, Result
from sccli.service.resources import Usage, attempt_resources, memory_message


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
    ``reason``: why it was stopped: timeout, memory, cancel, drain, shutdown or lease_lost.
    ``started``: when it was claimed; ``clock_from``: when its handler's child started (the limit counts from it).
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
    outcome: Outcome | None = None
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
    promotions: list[MayPromote] = field(default_factory=list)
    #: The ``logs`` entry of the ended attempt, written with its outcome (one write, not two).
    attempt_log: str | None = None
    #: The memory limit of the job's tree in bytes (None: not watched), its largest sampled
    #: size, and what the handler's process used (measured when it was reaped).
    memory_limit: int | None = None
    cgroup: Path | None = None  # its own cgroup v2 (a delegated memory controller), else None
    peak_rss: int = 0
    usage: Usage | None = None
    #: The job's time limit in seconds (see :func:`~sccli.service.config.job_timeout_seconds`).
    time_limit: float = field(init=False)

    def __post_init__(self) -> None:
        self.time_limit = job_timeout_seconds(self.job)
        self.start_clock(self.started)

    def start_clock(self, now: float) -> None:
        """Count the time limit (and the time without progress) from ``now``."""
        self.clock_from = self.moved_at = now

    @property
    def deadline(self) -> float:
        """When the attempt is stopped (the one place this is computed): its time limit after the
        handler started; for a type with ``stall_minutes``, later while its progress keeps moving,
        until it has not moved for that long."""
        hard = self.clock_from + self.time_limit
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
        """Read every message waiting on the child's pipe (never blocks). A message that is not
        one a child sends fails the attempt and closes the pipe: the child is not to be trusted."""
        if self.child is None:
            return
        conn = self.child.conn
        while self.pipe_open:
            try:
                # select(), not conn.poll(): that builds a whole selector for each look
                if not select.select([conn], [], [], 0)[0]:
                    return
                message = _read_message(conn)
            except (EOFError, OSError, ProtocolError) as exc:
                if isinstance(exc, ProtocolError):
                    self.outcome = Failure(f"the handler's process garbled its channel to the service: {exc}")
                self.pipe_open = False
                conn.close()
                return
            self._take(message)

    def _take(self, message: Progress | MayPromote | Outcome) -> None:
        if isinstance(message, Progress):
            if (message.percentage, message.message) != self.progress:
                self.moved_at = time.monotonic()  # progress moved: a stall window starts again
            self.progress = (message.percentage, message.message)
            self.progress_dirty = True
        elif isinstance(message, MayPromote):
            self.promotions.append(message)
        else:
            self.outcome = message

    def answer_promotion(self, number: int, allowed: bool) -> None:
        """Tell the child whether it may put its output in place (it may have ended meanwhile)."""
        if self.child is None or not self.pipe_open:
            return
        try:
            self.child.conn.send_bytes(protocol.encode(protocol.Promote(number, allowed)))
        except OSError:
            pass

    @property
    def memory_watched(self) -> bool:
        """Its handler runs under a memory limit that the service's watchdog samples."""
        return self.memory_limit is not None and self.child is not None and self.state == AttemptState.RUNNING

    @property
    def may_promote(self) -> bool:
        """Still ours and still working: a stopped or re-queued attempt never promotes."""
        return self.state == AttemptState.RUNNING and not self.lease_lost


def _read_message(conn: Connection) -> Progress | MayPromote | Outcome:
    """The next message from a child (ProtocolError when it is not one a child sends)."""
    message: Progress | MayPromote | Outcome = protocol.receive(conn, protocol.Channel.FROM_CHILD)
    return message


def promotion_check(queue: Any, job_id: str, token: str) -> bool:
    """The store side of a promotion question: a heartbeat fenced by the attempt's lease token
    (false when the job was re-queued or changed: the lease is lost)."""
    return bool(queue.heartbeat(job_id, token))


def attempt_summary(rj: RunningJob, host: str, code: int | None, last_lines: str) -> str:
    """The ``logs`` entry written at the end of an attempt: who ran it, how it ended, its last lines."""
    head = (
        f"attempt {rj.job.get('attempts')} on {host} (pid {rj.child.pid if rj.child else '?'}) ended: "
        f"{describe_exit(code)}"
    )
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


#: The states an outcome write of the lease holder leaves its job in.
OUTCOME_STATES = {
    "complete": (JobStatus.COMPLETED.value,), "cancelled": (JobStatus.CANCELLED.value,),
    "release": (JobStatus.PENDING.value,),
    "fail": (JobStatus.SCHEDULED.value, JobStatus.PENDING.value, JobStatus.FAILED.value),
}


def record_once(queue: Any, write: Callable[[Any], Any], job_id: str, token: str, what: str) -> dict[str, Any] | None:
    """Run an outcome ``write``; when it changes nothing, tell a write of ours that landed from a
    lost lease. A try whose reply was lost (the write landed, the connection dropped) leaves
    the job in the outcome's state with our lease token: only the holder's own outcome keeps
    its token on a job it ends (a sweeper or an administrator clears it). Then the write is
    ours: its follow-ups still waiting in the job's outbox run now (they are idempotent), and
    the job is returned as recorded. None when the lease is really lost."""
    done = write(queue)
    if done is not None:
        return done
    current = queue.get_job(job_id)
    if current and current.get("status") in OUTCOME_STATES[what] and current.get("lease_token") == token:
        queue.finish_followups(current)
        return current
    return None


def failure_of(rj: RunningJob, elapsed: float) -> tuple[str, str]:
    """The error kind and message of an attempt that did not complete."""
    if rj.reason == "timeout":
        limit = f"limit {rj.time_limit:.0f}s"
        if rj.deadline > rj.clock_from + rj.time_limit:  # it ran on past its limit while progress moved
            limit += f", then no progress for {rj.stall_seconds:.0f}s (stall_minutes)"
        return "timeout", f"timed out after {elapsed:.1f}s ({limit}); process group killed"
    if rj.reason == "memory" and rj.memory_limit is not None:
        return "memory", memory_message(rj.peak_rss, rj.memory_limit, rj.job_type)
    if isinstance(rj.outcome, Failure):
        return rj.outcome.kind, rj.outcome.text
    return "error", f"handler process ended without a result ({describe_exit(rj.exit_code)})"


def outcome_write(
    rj: RunningJob, what: str, actor: str, log_entry: Any, elapsed: float
) -> tuple[Callable[[Any], Any], str]:
    """The queue call that records an attempt's outcome (``complete``, ``release``,
    ``cancelled`` or a failure), with its ``logs`` entry, and the words the service logs for it."""
    job_id, token, claimed, used = rj.job_id, rj.token, rj.job, attempt_resources(rj)
    outcome = what if what in OUTCOME_STATES else "fail"
    kind, error = failure_of(rj, elapsed) if outcome == "fail" else ("", "")
    reason = "service draining" if rj.reason == "drain" else "service stopped"
    result = (rj.outcome.result if isinstance(rj.outcome, Result) else {}) if outcome == "complete" else {}

    def write(q: Any) -> Any:
        if outcome == "complete":
            return q.complete(job_id, token, result, actor=actor, log=log_entry, claimed=claimed, resources=used)
        if outcome == "release":
            return q.release(job_id, token, reason=reason, actor=actor, log=log_entry)
        if outcome == "cancelled":
            return q.mark_cancelled(job_id, token, actor=actor, log=log_entry, resources=used)
        return q.fail(job_id, token, error, kind=kind, actor=actor, log=log_entry, claimed=claimed, resources=used)

    notes = {
        "complete": f"completed in {elapsed:.2f}s", "cancelled": "cancelled",
        "release": f"stopped ({reason}); back to pending without using an attempt", "fail": f"failed ({kind}): {error}",
    }
    return (lambda q: record_once(q, write, job_id, token, outcome)), notes[outcome]
