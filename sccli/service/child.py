"""The job child: runs one handler (or its cleanup) in a process group of its own.

Runs in a process forked by the template (:mod:`sccli.service.template`) and never opens the
store: it gets the job and the settings, and its stdout and stderr are a pipe that the template
copies into ``<log_dir>/sc_job_<job_id>.log`` (capped; tools it runs log there as well). It talks
to the service through one duplex socket, with the messages of :mod:`sccli.service.protocol`:

- :class:`~sccli.service.protocol.Progress` whenever the handler reports progress;
- :class:`~sccli.service.protocol.MayPromote` before the handler renames an output into place;
  the service answers :class:`~sccli.service.protocol.Promote` after a lease-fenced heartbeat;
- :class:`~sccli.service.protocol.Result` when the handler returned, or
  :class:`~sccli.service.protocol.Failure` when it raised (kind ``permanent`` when
  :func:`sccli.errors.is_permanent`, else ``error``).

The child is a child subreaper and tags its environment with ``SC_JOB_ID`` and ``SC_ATTEMPT``;
before it exits it kills every process the handler left (whatever its session or group), and on
SIGTERM (timeout, cancel, drain, or the template died) it terminates them all, then exits.
"""

from __future__ import annotations

import _signal
import json
import logging
import os
import select
import signal
import struct
import sys
import threading
import time
import traceback
from typing import Any, NoReturn

from sccli.errors import ScError, is_permanent
from sccli.handlers import JobContext, resolve_cleanup, resolve_handler
from sccli.handlers.base import attempt_tag
from sccli.handlers.staging import install_gate, remove_earlier_partials
from sccli.service import procs
from sccli.service.joblog import job_log_path
from sccli.service.protocol import Channel as Direction
from sccli.service.protocol import Failure, MayPromote, Outcome, Progress, Promote, Result, decode, encode

__all__ = ["job_log_path", "run_child", "prepare_template", "prepare_job_type", "flush_output", "set_handler"]

#: Result statuses that a handler may return instead of raising, meaning the attempt failed.
FAILED_STATUSES = frozenset({"error", "failed", "failure"})


#: ``signal.signal`` without its enum conversions: for a Python handler it replaced, the wrapper
#: raises and formats a ValueError inside ``enum`` (37 µs against 6, and pages written in a child).
set_handler = _signal.signal


def die_with_parent(sig: int) -> None:
    """Ask Linux to send ``sig`` to this process when its parent dies (no-op elsewhere)."""
    procs.die_with_parent(sig)


def _on_term_factory(grace: float) -> Any:
    def on_term(signum: int, frame: Any) -> None:
        # A TERM for the child (timeout, cancel, drain, or its template died): every process the
        # handler started goes too, in our group or not, SIGKILL after the grace.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            os.killpg(os.getpgrp(), signal.SIGTERM)
        except OSError:
            pass
        procs.terminate_tree(os.getpid(), grace)
        _flush()
        os._exit(128 + signal.SIGTERM)
    return on_term


def _isolate(parent_pid: int, request: dict[str, Any]) -> None:
    try:
        os.setpgid(0, 0)
    except OSError:  # the template already did it
        pass
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGCHLD, signal.SIGPIPE):  # the template ignores INT and HUP
        set_handler(sig, _signal.SIG_DFL)
    grace = float(getattr(request.get("settings"), "kill_grace_seconds", 5.0))
    set_handler(signal.SIGTERM, _on_term_factory(max(0.0, grace * 0.8)))
    procs.become_subreaper()
    procs.die_with_parent(signal.SIGTERM)
    if os.getppid() != parent_pid:  # the template died before prctl took effect
        os._exit(75)
    if request.get("cgroup"):  # before the handler allocates anything: the kernel holds the tree to its limit
        _join_cgroup(request["cgroup"])
    job = request["job"]
    os.environ["SC_JOB_ID"] = str(job.get("job_id"))
    os.environ["SC_ATTEMPT"] = attempt_of(job)


def _join_cgroup(path: str) -> None:
    from pathlib import Path

    from sccli.service.cgroups import join

    try:
        join(Path(path))
    except OSError as exc:  # the service's watchdog still holds the limit
        _note("sccli.job", f"could not join cgroup {path} ({exc}); the service's watchdog enforces the memory limit")
        return
    os.environ["SC_JOB_CGROUP"] = path


def attempt_of(job: dict[str, Any]) -> str:
    """The attempt's name: ``<job_id>-<first 8 of the lease token>`` (the job id without a lease)."""
    return attempt_tag(job)


#: The job log's line format (the child's logging and its own notes alike).
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def prepare_template() -> None:
    """Set up, once in the template, what every child would otherwise build for itself: stdin
    from /dev/null, line-buffered ``sys.stdout``/``sys.stderr`` on fds 1 and 2 (a child points
    those fds at its log pipe) and the root logger writing to ``sys.stderr`` in :data:`LOG_FORMAT`.
    Work done here is shared by every fork instead of repeated, and copied, in each."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - lives as long as the process
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    time.localtime()  # libc reads the time zone once, here, not in every child that logs a line


#: job type -> (the settings it was prepared with, its handler or None), filled in the forker.
_PREPARED: dict[str, tuple[Any, Any]] = {}


def prepare_job_type(job_type: str, settings: Any) -> None:
    """In the forker, once per job type (and settings): create the child's logger and resolve
    (import) the handler, so that no child of the type does either again."""
    known = _PREPARED.get(job_type)
    if known is not None and known[0] is settings:
        return
    logging.getLogger(f"sccli.job.{job_type}")
    try:
        handler = resolve_handler(job_type, settings)
    except Exception:  # noqa: BLE001 - the child resolves it again and fails the job with the reason
        handler = None
    _PREPARED[job_type] = (settings, handler)


def _handler_for(job_type: str, settings: Any) -> Any:
    known = _PREPARED.get(job_type)
    if known is not None and known[0] is settings and known[1] is not None:
        return known[1]
    return resolve_handler(job_type, settings)


def flush_output() -> None:
    """Flush ``sys.stdout``/``sys.stderr`` (the template before each fork: nothing it buffered
    may end up in a child's log)."""
    _flush()


def _note(name: str, message: str) -> None:
    """One INFO line in the job log, as the logging module would write it, without a LogRecord
    (the child's own two lines; handlers log through ``ctx.log``). ``sys.stderr`` is line
    buffered and holds nothing, so writing to fd 2 directly keeps the order."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
    line = f"{stamp},{int(now % 1 * 1000):03d} INFO {name}: {message}\n".encode(errors="replace")
    try:
        os.write(2, line)
    except OSError:  # the template is gone: the job goes on, its log line does not
        pass


class Channel:
    """The child's end of the job socket; safe to use from handler threads.

    Messages are framed as :class:`multiprocessing.connection.Connection` frames them (a 4-byte
    big-endian length, then the encoded message), so the service reads them with a
    ``Connection``; the child does it with two system calls and without importing
    :mod:`multiprocessing`."""

    def __init__(self, fd: int, stale_after: float) -> None:
        self.fd = fd
        self.window = max(0.05, stale_after / 2)
        self.lock = threading.Lock()
        self.asked = 0

    def send(self, message: Progress | MayPromote | Outcome) -> None:
        with self.lock:
            self._send(message)

    def _send(self, message: Progress | MayPromote | Outcome) -> None:
        data = encode(message)
        view = memoryview(struct.pack("!i", len(data)) + data)
        while view:
            view = view[os.write(self.fd, view):]

    def _recv(self, timeout: float) -> Promote | None:
        """The next answer, or None when none came within ``timeout``; EOFError when the service
        is gone (ProtocolError when it sent something else)."""
        if not select.select([self.fd], [], [], timeout)[0]:
            return None
        size = struct.unpack("!i", self._read(4))[0]
        answer: Promote = decode(Direction.TO_CHILD, self._read(size))
        return answer

    def _read(self, size: int) -> bytes:
        chunks, left = [], size
        while left:
            chunk = os.read(self.fd, left)
            if not chunk:
                raise EOFError("the service closed the job socket")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def may_promote(self, final: str) -> bool:
        """Ask the service whether this attempt still holds the job's lease. No answer within
        half of ``stale_after_seconds`` is a no: after that another service may have taken the job."""
        with self.lock:
            self.asked += 1
            number, asked_at = self.asked, time.monotonic()
            try:
                self._send(MayPromote(number, final))
                while (left := asked_at + self.window - time.monotonic()) > 0:
                    answer = self._recv(left)
                    if answer is None:
                        break
                    if answer.number == number:
                        # the lease is fresh for stale_after from the heartbeat, written after asked_at
                        return answer.allowed and time.monotonic() - asked_at < self.window
            except (EOFError, OSError, ScError):  # the service is gone or garbled: nobody vouches for the lease
                pass
            return False


class _Progress:
    """Sends each new progress report to the service (the service writes at most one a second)."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.last: tuple[Any, Any] | None = None

    def __call__(self, percentage: float | None, message: str | None) -> None:
        report = (percentage, message)
        if report != self.last:
            self.last = report
            number = isinstance(percentage, (int, float)) and not isinstance(percentage, bool)
            text = None if message is None else str(message)
            self.channel.send(Progress(float(percentage) if number else None, text))  # type: ignore[arg-type]


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, ScError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, SystemExit):
        return f"handler exited with code {exc.code}"
    return f"{type(exc).__name__}: {exc}"


_PLAIN = (str, int, float, bool, type(None))


def _storable(result: Any) -> dict[str, Any]:
    """The result as the store keeps it: JSON values only (anything else becomes its ``str``)."""
    if result is None:
        result = {"status": "ok", "message": ""}
    if not isinstance(result, dict):
        raise TypeError(f"handler returned {type(result).__name__}, expected a dict")
    if all(type(k) is str and type(v) in _PLAIN for k, v in result.items()):
        return dict(result)  # already plain: no round trip through JSON text
    return json.loads(json.dumps(result, default=str))


def _run_handler(request: dict[str, Any], channel: Channel, log: logging.Logger, name: str) -> Outcome:
    job, settings = request["job"], request["settings"]
    install_gate(channel.may_promote)  # also gates promotions of code that has no JobContext at hand
    try:
        _remove_earlier_partials(job, settings, log)
        handler = _handler_for(job["job_type"], settings)
        ctx = JobContext(job=job, settings=settings, log=log, report=_Progress(channel), gate=channel.may_promote)
        result = _storable(handler(ctx))
    except BaseException as exc:  # noqa: BLE001 - every failure of the handler becomes the attempt's error
        log.error("handler failed: %s\n%s", _error_text(exc), traceback.format_exc().rstrip())
        return Failure(_error_text(exc), "permanent" if is_permanent(exc) else "error")
    if str(result.get("status", "")).lower() in FAILED_STATUSES:
        log.error("handler reported failure: %s", result.get("message"))
        return Failure(str(result.get("message") or f"handler returned status {result.get('status')}"))
    _note(name, f"handler finished: {result.get('message', '')}")
    return Result(result)


def _remove_earlier_partials(job: dict[str, Any], settings: Any, log: logging.Logger) -> None:
    """Before a retry starts work: remove the partial outputs an earlier attempt left when it died
    with its service (nobody ran its cleanup); a first attempt has none to look for."""
    if int(job.get("attempts") or 0) <= 1:
        return
    try:
        removed = remove_earlier_partials(job, settings)
    except OSError as exc:  # never fails the attempt: monitor cleanup sweeps what is left once the job ends
        log.warning("partial outputs of an earlier attempt could not be removed: %s", exc)
        return
    if removed:
        names = ", ".join(map(str, removed[:5]))
        log.info("removed %d partial output(s) of an earlier attempt: %s", len(removed), names)


def _run_cleanup(request: dict[str, Any], log: logging.Logger) -> Outcome:
    job, settings = request["job"], request["settings"]
    try:
        cleanup = resolve_cleanup(job["job_type"], settings)
        if cleanup is not None:
            log.info("running cleanup after %s", request.get("reason", "a kill"))
            cleanup(job, settings)
    except BaseException as exc:  # noqa: BLE001
        log.error("cleanup failed: %s\n%s", _error_text(exc), traceback.format_exc().rstrip())
        return Failure(_error_text(exc))
    return Result({})


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def run_child(request: dict[str, Any], fd: int, parent_pid: int) -> NoReturn:
    """Entry point in the forked child (stdout and stderr already go to the log pipe); never returns."""
    procs.exit_after(lambda: _live(request, fd, parent_pid))


def _live(request: dict[str, Any], fd: int, parent_pid: int) -> None:
    _isolate(parent_pid, request)
    os.set_inheritable(fd, False)
    channel = Channel(fd, float(getattr(request["settings"], "stale_after_seconds", 60.0)))
    job = request["job"]
    name = f"sccli.job.{job['job_type']}"
    log = logging.getLogger(name)
    if request["kind"] == "cleanup":
        outcome = _run_cleanup(request, log)
    else:
        _note(name, f"job {job['job_id']} ({job['job_type']}) attempt {job.get('attempts')} of "
                    f"{job.get('max_attempts')} on {request.get('worker_id')}, pid {os.getpid()}")
        outcome = _run_handler(request, channel, log, name)
    left = 0 if procs.has_no_children() else procs.kill_tree(os.getpid())
    if left:
        log.warning("killed %d process(es) the handler left running", left)
    channel.send(outcome)
