"""The job child: runs one handler (or its cleanup) in a process group of its own.

Runs in a process forked by the template (:mod:`sccli.service.template`) and never opens the
store: it gets the job and the settings, writes ``<log_dir>/sc_job_<job_id>.log`` (its stdout and
stderr go there too, so tools it runs log there as well) and talks to the service through one
pipe, with pickled messages:

- ``("progress", percentage, message)`` whenever the handler reports progress;
- ``("result", dict)`` when the handler returned, or ``("error", text)`` when it raised.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NoReturn

from sccli.errors import ScError

#: Result statuses that a handler may return instead of raising, meaning the attempt failed.
FAILED_STATUSES = frozenset({"error", "failed", "failure"})

PR_SET_PDEATHSIG = 1


def job_log_path(log_dir: str, job_id: str) -> Path:
    """Where a job's log file lives (the original's ``sc_job_<job_id>.log``)."""
    return Path(log_dir) / f"sc_job_{job_id}.log"


def die_with_parent(sig: int) -> None:
    """Ask Linux to send ``sig`` to this process when its parent dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _terminate_group(signum: int, frame: Any) -> None:
    # A TERM for the child (service stop, or its parent died) stops the whole group, so the
    # tools the handler started do not outlive it.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.killpg(os.getpgrp(), signal.SIGTERM)


def _isolate(parent_pid: int) -> None:
    try:
        os.setpgid(0, 0)
    except OSError:  # the template already did it
        pass
    for sig in (signal.SIGINT, signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, _terminate_group)
    die_with_parent(signal.SIGTERM)
    if os.getppid() != parent_pid:  # the template died before prctl took effect
        os._exit(75)


def _redirect_output(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.close(null)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - lives as long as the process
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)


class _Progress:
    """Sends each new progress report to the service (the service writes at most one a second)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.last: tuple[Any, Any] | None = None

    def __call__(self, percentage: float | None, message: str | None) -> None:
        report = (percentage, message)
        if report != self.last:
            self.last = report
            self.conn.send(("progress", percentage, message))


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, ScError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, SystemExit):
        return f"handler exited with code {exc.code}"
    return f"{type(exc).__name__}: {exc}"


def _storable(result: Any) -> dict[str, Any]:
    if result is None:
        result = {"status": "ok", "message": ""}
    if not isinstance(result, dict):
        raise TypeError(f"handler returned {type(result).__name__}, expected a dict")
    return json.loads(json.dumps(result, default=str))  # type: ignore[no-any-return]


def _run_handler(request: dict[str, Any], conn: Connection, log: logging.Logger) -> tuple[str, Any]:
    from sccli.handlers import JobContext, resolve_handler

    job, settings = request["job"], request["settings"]
    try:
        handler = resolve_handler(job["job_type"], settings)
        result = _storable(handler(JobContext(job=job, settings=settings, log=log, report=_Progress(conn))))
    except BaseException as exc:  # noqa: BLE001 - every failure of the handler becomes the attempt's error
        log.error("handler failed: %s\n%s", _error_text(exc), traceback.format_exc().rstrip())
        return "error", _error_text(exc)
    if str(result.get("status", "")).lower() in FAILED_STATUSES:
        log.error("handler reported failure: %s", result.get("message"))
        return "error", str(result.get("message") or f"handler returned status {result.get('status')}")
    log.info("handler finished: %s", result.get("message", ""))
    return "result", result


def _run_cleanup(request: dict[str, Any], log: logging.Logger) -> tuple[str, Any]:
    from sccli.handlers import resolve_cleanup

    job, settings = request["job"], request["settings"]
    try:
        cleanup = resolve_cleanup(job["job_type"], settings)
        if cleanup is not None:
            log.info("running cleanup after %s", request.get("reason", "a kill"))
            cleanup(job, settings)
    except BaseException as exc:  # noqa: BLE001
        log.error("cleanup failed: %s\n%s", _error_text(exc), traceback.format_exc().rstrip())
        return "error", _error_text(exc)
    return "result", {}


def run_child(request: dict[str, Any], fd: int, parent_pid: int) -> NoReturn:
    """Entry point in the forked child; never returns."""
    code = 0
    try:
        _isolate(parent_pid)
        os.set_inheritable(fd, False)
        conn = Connection(fd, readable=False)
        job = request["job"]
        _redirect_output(job_log_path(request["log_dir"], job["job_id"]))
        log = logging.getLogger(f"sccli.job.{job['job_type']}")
        if request["kind"] == "cleanup":
            kind, payload = _run_cleanup(request, log)
        else:
            log.info("job %s (%s) attempt %s of %s on %s, pid %s", job["job_id"], job["job_type"], job.get("attempts"),
                     job.get("max_attempts"), request.get("worker_id"), os.getpid())
            kind, payload = _run_handler(request, conn, log)
        conn.send((kind, payload))
    except BaseException:  # noqa: BLE001 - a child must never fall back into the template's loop
        code = 70
        try:
            traceback.print_exc()
        except Exception:
            pass
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)
