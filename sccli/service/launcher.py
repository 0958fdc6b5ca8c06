"""The service's side of the template process: start job children, learn when they end, kill groups.

Each child gets one end of a duplex ``AF_UNIX`` socket pair: it sends progress, its outcome and
"may I promote?" questions; the service answers those questions on the same socket. The messages
on both sockets are those of :mod:`sccli.service.protocol`.
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
from typing import Any, Union

from sccli.service.joblog import DEFAULT_LOG_CAP, job_log_path
from sccli.service.protocol import Channel, Exited, ProtocolError, Started, StartFailed, StartRequest, decode, encode

log = logging.getLogger("sccli.service")

#: Larger requests are refused (the socket carries each request as one message).
MAX_REQUEST = 1 << 20


@dataclass
class Child:
    """A started child: its pid (= its process group) and the service's end of its socket."""

    pid: int
    conn: Connection


@dataclass(frozen=True)
class Launched:
    """The child of request ``request_id`` started (the template's :class:`Started`, with its socket)."""

    request_id: int
    child: Child


@dataclass(frozen=True)
class TemplateLost:
    """The template process died: every child it held must be presumed gone."""


#: What :meth:`Launcher.events` reports.
LaunchEvent = Union[Launched, StartFailed, Exited, TemplateLost]


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
        self._events: list[LaunchEvent] = []
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

        The answer comes later from :meth:`events`: :class:`Launched` or :class:`StartFailed`,
        so the service never waits for a fork.
        """
        self._next_id += 1
        request_id = self._next_id
        for attempt in (1, 2):
            if self._sock is None:
                self.start()
            payload = self._payload(request, request_id)
            if len(payload) > MAX_REQUEST:
                self._events.append(StartFailed(request_id, f"job too large to hand to a child ({len(payload)} bytes)"))
                return request_id
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                socket.send_fds(self._sock, [payload], [theirs.fileno()])  # type: ignore[arg-type]
            except OSError as exc:
                ours.close()
                log.warning("template process lost (%s); restarting it", exc)
                self._restart()
                if attempt == 2:
                    self._events.append(StartFailed(request_id, f"could not reach the template process: {exc}"))
                continue
            finally:
                theirs.close()
            self._pending[request_id] = ours.detach()
            self._settings_sent = request.get("settings")
            break
        return request_id

    def _payload(self, request: dict[str, Any], request_id: int) -> bytes:
        """The :class:`StartRequest` for the template: the settings pickled apart, and only when
        the template does not hold them yet (it keeps the last ones); the rest of the request
        pickled in ``payload``."""
        message = dict(request)
        settings = message.pop("settings", None)
        job = request.get("job") or {}
        fresh = None if settings is self._settings_sent else pickle.dumps(settings, pickle.HIGHEST_PROTOCOL)
        return encode(StartRequest(
            request_id=request_id, job_type=str(job.get("job_type")),
            log_path=str(job_log_path(request["log_dir"], str(job.get("job_id")))),
            log_cap=int(getattr(settings, "job_log_max_bytes", DEFAULT_LOG_CAP)),
            settings=fresh, payload=pickle.dumps(message, pickle.HIGHEST_PROTOCOL)))

    def events(self) -> list[LaunchEvent]:
        """What happened since the last call, never blocking: :class:`Launched`,
        :class:`StartFailed` and :class:`Exited`. When the template itself died (or sent
        something that is not a message of its channel), pending requests fail,
        :class:`TemplateLost` says every child must be presumed gone, and a new template is started."""
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
                out.append(self._event(decode(Channel.FROM_TEMPLATE, data)))
        except (EOFError, OSError, ProtocolError) as exc:
            log.error("template process died (%s); starting a new one", exc)
            self._restart()
            out, self._events = out + self._events, []
        return out

    def _event(self, message: Started | StartFailed | Exited) -> LaunchEvent:
        if isinstance(message, Exited):
            return message
        read_fd = self._pending.pop(message.request_id)
        if isinstance(message, Started):
            return Launched(message.request_id, Child(pid=message.pid, conn=Connection(read_fd)))
        os.close(read_fd)
        return message

    def _restart(self) -> None:
        for request_id in list(self._pending):
            os.close(self._pending.pop(request_id))
            self._events.append(StartFailed(request_id, "the template process died"))
        self._events.append(TemplateLost())
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

