"""The service's side of the template process: start job children, learn when they end, kill groups.

Each child gets one end of a duplex ``AF_UNIX`` socket pair: it sends progress, its outcome and
"may I promote?" questions; the service answers those questions on the same socket.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import subprocess
import sys
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from sccli.service.joblog import DEFAULT_LOG_CAP, job_log_path

log = logging.getLogger("sccli.service")

#: Larger requests are refused (the socket carries each request as one message).
MAX_REQUEST = 1 << 20


@dataclass
class Child:
    """A started child: its pid (= its process group) and the service's end of its socket."""

    pid: int
    conn: Connection


def kill_group(pgid: int, sig: int) -> None:
    """Signal a whole process group; a group that is already gone is fine."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Launcher:
    """Owns the template process, which forks the children; a child is its own process group."""

    def __init__(self, preload: list[str]) -> None:
        self.preload = preload
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._next_id = 0
        self._pending: dict[int, int] = {}
        self._events: list[tuple[Any, ...]] = []
        self._settings_sent: Any = None  # what the running template already holds (it keeps the last one)

    # -- template life cycle ----------------------------------------------------------------
    def start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        for s in (ours, theirs):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 21)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        cmd = [sys.executable, "-m", "sccli.service.template", str(theirs.fileno()), *self.preload]
        self._proc = subprocess.Popen(cmd, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=_template_env())
        theirs.close()
        self._settings_sent = None
        self._sock = ours
        log.debug("template process %s started (preloading %s)", self._proc.pid, ", ".join(self.preload))

    def stop(self) -> None:
        """Close the socket (the template exits) and wait for it briefly."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    @property
    def template_pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def fileno(self) -> int:
        assert self._sock is not None
        return self._sock.fileno()

    # -- children ---------------------------------------------------------------------------
    def request(self, request: dict[str, Any]) -> int:
        """Ask the template to fork a child for ``request`` (kind run or cleanup); its id.

        The answer comes later from :meth:`events`: ``("started", id, Child)`` or
        ``("failed", id, text)``, so the service never waits for a fork.
        """
        self._next_id += 1
        request_id = self._next_id
        for attempt in (1, 2):
            if self._sock is None:
                self.start()
            payload = self._payload(request, request_id)
            if len(payload) > MAX_REQUEST:
                self._events.append(("failed", request_id, f"job too large to hand to a child ({len(payload)} bytes)"))
                return request_id
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                socket.send_fds(self._sock, [payload], [theirs.fileno()])  # type: ignore[arg-type]
            except OSError as exc:
                ours.close()
                log.warning("template process lost (%s); restarting it", exc)
                self._restart()
                if attempt == 2:
                    self._events.append(("failed", request_id, f"could not reach the template process: {exc}"))
                continue
            finally:
                theirs.close()
            self._pending[request_id] = ours.detach()
            self._settings_sent = request.get("settings")
            break
        return request_id

    def _payload(self, request: dict[str, Any], request_id: int) -> bytes:
        """The pickled ``(header, settings, payload)`` for the template (see
        :mod:`sccli.service.template`): the settings pickled apart, and only when the template
        does not hold them yet (it keeps the last ones); the rest of the request in ``payload``."""
        message = dict(request)
        settings = message.pop("settings", None)
        job = request.get("job") or {}
        header = {
            "id": request_id, "job_type": job.get("job_type"),
            "log_path": str(job_log_path(request["log_dir"], str(job.get("job_id")))),
            "log_cap": getattr(settings, "job_log_max_bytes", DEFAULT_LOG_CAP),
        }
        fresh = None if settings is self._settings_sent else pickle.dumps(settings, pickle.HIGHEST_PROTOCOL)
        return pickle.dumps((header, fresh, pickle.dumps(message, pickle.HIGHEST_PROTOCOL)), pickle.HIGHEST_PROTOCOL)

    def events(self) -> list[tuple[Any, ...]]:
        """What happened since the last call, never blocking: ``("started", id, Child)``,
        ``("failed", id, text)`` and ``("exited", pid, exit_code, last_lines, usage)`` (the last
        lines of the child's output, and its :class:`~sccli.service.resources.Usage` or None).
        When the template itself died, pending requests fail, ``("exited", -1, None, "")`` says
        every child must be presumed gone, and a new template is started."""
        out, self._events = self._events, []
        if self._sock is None:
            return out
        try:
            while True:
                try:
                    data = self._sock.recv(65536, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                if not data:
                    raise EOFError("template process exited")
                out.append(self._event(pickle.loads(data)))
        except (EOFError, OSError) as exc:
            log.error("template process died (%s); starting a new one", exc)
            self._restart()
            out, self._events = out + self._events, []
        return out

    def _event(self, message: tuple[Any, ...]) -> tuple[Any, ...]:
        kind = message[0]
        if kind == "exited":
            return message
        read_fd = self._pending.pop(message[1])
        if kind == "started":
            return ("started", message[1], Child(pid=message[2], conn=Connection(read_fd)))
        os.close(read_fd)
        return message

    def _restart(self) -> None:
        for request_id in list(self._pending):
            os.close(self._pending.pop(request_id))
            self._events.append(("failed", request_id, "the template process died"))
        self._events.append(("exited", -1, None, ""))
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            try:
                self._proc.kill()
                self._proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self._proc = None
        self.start()


def _template_env() -> dict[str, str]:
    env = dict(os.environ)
    # The template must import the same sccli (and plugin modules) as the service.
    paths = [p for p in sys.path if p]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["SC_SERVICE_PID"] = str(os.getpid())  # the template exits at once if it started an orphan
    return env

