"""The template process: starts one child per job (through its forker), pumps their logs, reaps.

Starting a Python interpreter costs ~100 ms; forking a warm one costs about a millisecond, and
each job still gets a process and a process group of its own. The forking itself is done by
the template's forker (:mod:`sccli.service.forker`), a child that holds the preloaded handler
modules and does nothing else, because a process that forks pays a page fault for every page it
writes afterwards; the template keeps the rest. The service
(:class:`sccli.service.launcher.Launcher`) talks to the template over a ``SOCK_SEQPACKET`` socket:

- request: a pickled ``(header, settings, payload)`` with one file descriptor attached, the
  child's end of the job's duplex socket; ``header`` is ``{"id", "job_type", "log_path",
  "log_cap"}``, ``settings`` the pickled settings (None: the last ones sent still hold),
  ``payload`` the pickled request for the child (``{"kind": "run"|"cleanup", "job", ...}``); the
  template passes both pickles on to the forker unread;
- replies: ``("started", id, pid)``, ``("failed", id, text)`` and, when a child ends and its
  output is in its log, ``("exited", pid, exit_code, last_lines, usage)`` (negative: killed by
  that signal; ``usage``: what the forker's reap measured, None when the forker did not reap it).

Containment (Linux): the template is a child subreaper, so a job's orphans (``setsid``, double
fork) re-parent to the job's child or to the template, never to init. When a child ends without
having killed its own descendants, the template kills every process re-parented to it. When the
service dies (``PR_SET_PDEATHSIG`` sends SIGTERM) or closes the socket, it kills every process
below it (the forker and its children too), finishes the logs and exits.

Each child's stdout and stderr are a pipe read here into its job log through a
:class:`~sccli.service.joblog.LogPump`, which caps what an attempt can write.
"""

from __future__ import annotations

import os
import pickle
import selectors
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from sccli.service import procs
from sccli.service.joblog import LogPump

MAX_MESSAGE = 1 << 20
#: Exit code of a child that ended normally after killing every process it had started.
CONTAINED = 0


class Template:
    """Children by pid with the pump of their output, and the forker that starts them."""

    def __init__(self, sock: socket.socket, preload: list[str]) -> None:
        self.sock = sock
        self.preload = preload
        self.pid = os.getpid()
        self.pumps: dict[int, tuple[int, LogPump]] = {}  # child pid -> (output pipe read end, pump)
        self.by_fd: dict[int, int] = {}  # output pipe read end -> child pid
        self.forking: dict[int, tuple[int, LogPump]] = {}  # request id -> the same, until the forker answers
        self.ended: list[tuple[int, int]] = []
        self.usage: dict[int, Any] = {}  # child pid -> its Usage, from the forker's reap
        self.forker_sock: socket.socket | None = None
        self.forker_pid = 0
        self.forker_fresh = True  # the forker has not been sent any settings yet
        self.settings: bytes | None = None  # the last settings (pickled), for a new forker
        self.stopping = False
        self.wake_r, self.wake_w = os.pipe()
        self.selector = selectors.DefaultSelector()

    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            self.sock.send(pickle.dumps(message))
        except OSError:  # the service is gone: nothing of its jobs may outlive it
            self.stopping = True
            self._shut_down()
            os._exit(0)

    # -- life cycle -------------------------------------------------------------------------
    def serve(self) -> None:
        procs.wake_on_signals(self.wake_r, self.wake_w, self._on_term)
        self.selector.register(self.sock, selectors.EVENT_READ)
        self.selector.register(self.wake_r, selectors.EVENT_READ)
        self._start_forker()
        try:
            while not self.stopping:
                for key, _ in self.selector.select():
                    if key.fileobj is self.sock:
                        self.stopping = self.stopping or not self._receive()
                    elif key.fileobj is self.forker_sock:
                        self._from_forker()
                    elif key.fd == self.wake_r:
                        _drain(self.wake_r)
                    else:
                        self._pump(key.fd)
                    if self.stopping:
                        break
                self._settle()
        finally:
            self._shut_down()

    def _on_term(self, signum: int, frame: Any) -> None:
        self.stopping = True  # the service died (parent-death signal) or we are told to stop

    def _shut_down(self) -> None:
        """Kill every process below the template, finish the logs, tell the service what ended."""
        procs.kill_tree(self.pid, reap=self._reap)
        self._reap()
        for pid in list(self.pumps):
            self._close(pid)
        for request_id in list(self.forking):
            self._not_forked(request_id, "the service is stopping")

    # -- the forker -------------------------------------------------------------------------
    def _start_forker(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            try:
                self._become_forker(theirs)
            finally:
                os._exit(70)
        theirs.close()
        self.forker_sock, self.forker_pid, self.forker_fresh = ours, pid, True
        self.selector.register(ours, selectors.EVENT_READ)

    def _become_forker(self, sock: socket.socket) -> None:
        """In the new forker: drop everything of the template's but the forker's socket."""
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGTERM, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        for read_end, pump in [*self.pumps.values(), *self.forking.values()]:
            for end in (read_end, pump.fd):
                try:
                    os.close(end)
                except OSError:
                    pass
        for own in (self.sock, self.forker_sock, self.selector):
            if own is not None:
                own.close()
        os.close(self.wake_r)
        os.close(self.wake_w)
        os.closerange(3, sock.fileno())  # whatever else was open: a job must not inherit it
        os.closerange(sock.fileno() + 1, 1 << 16)
        from sccli.service.forker import run

        run(sock, self.preload, self.pid)

    def _forker_gone(self) -> None:
        """The forker died: requests it did not answer fail; its children die with it (their
        parent-death signal) and, re-parented here, are reaped and reported as they end."""
        if self.forker_sock is not None:
            self.selector.unregister(self.forker_sock)
            self.forker_sock.close()
            self.forker_sock = None
        self.forker_pid = 0
        for request_id in list(self.forking):
            self._not_forked(request_id, "the forker process died")

    def _from_forker(self) -> None:
        assert self.forker_sock is not None
        try:
            data = self.forker_sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._forker_gone()
            return
        message = pickle.loads(data)
        if message[0] == "ended":
            if message[1] in self.pumps:
                self.ended.append((message[1], message[2]))
                self.usage[message[1]] = message[3]
        elif message[0] == "forked":
            self._forked(message[1], message[2])
        else:
            self._not_forked(message[1], message[2])

    # -- children ---------------------------------------------------------------------------
    def _receive(self) -> bool:
        message, fds, _flags, _addr = socket.recv_fds(self.sock, MAX_MESSAGE, 1)
        if not message:
            return False
        header, settings, payload = pickle.loads(message)
        if not fds:
            self._send(("failed", header.get("id"), "no socket passed with the request"))
            return True
        self._fork(header, settings, payload, fds[0])
        return True

    def _fork(self, header: dict[str, Any], settings: bytes | None, payload: bytes, fd: int) -> None:
        """Hand the request to the forker with the job's socket and a new log pipe."""
        request_id = int(header["id"])
        try:
            if self.forker_sock is None:
                self._start_forker()
            assert self.forker_sock is not None
            pump = LogPump(Path(header["log_path"]), header["log_cap"])
            out_r, out_w = os.pipe()
        except OSError as exc:
            os.close(fd)
            self._send(("failed", request_id, f"cannot start a child: {exc}"))
            return
        try:
            if settings is not None:
                self.settings = settings
            elif self.forker_fresh:  # a new forker holds no settings yet
                settings = self.settings
            socket.send_fds(self.forker_sock, [pickle.dumps((request_id, header["job_type"], settings, payload))], [fd, out_w])
            self.forker_fresh = False
        except OSError as exc:
            os.close(out_r)
            pump.finish()
            self._send(("failed", request_id, f"cannot reach the forker process: {exc}"))
        else:
            self.forking[request_id] = (out_r, pump)
        finally:
            os.close(fd)
            os.close(out_w)

    def _forked(self, request_id: int, pid: int) -> None:
        out_r, pump = self.forking.pop(request_id)  # the forker answers each request once, in order
        os.set_blocking(out_r, False)
        self.pumps[pid] = (out_r, pump)
        self.by_fd[out_r] = pid
        self.selector.register(out_r, selectors.EVENT_READ)
        self._send(("started", request_id, pid))

    def _not_forked(self, request_id: int, text: str) -> None:
        out_r, pump = self.forking.pop(request_id)
        os.close(out_r)
        pump.finish()
        self._send(("failed", request_id, text))

    def _pump(self, read_end: int) -> None:
        pid = self.by_fd.get(read_end)
        if pid is None:
            return
        try:
            data = os.read(read_end, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.pumps[pid][1].feed(data)
        else:  # every writer is gone; the child's exit is reported once it is reaped
            self.selector.unregister(read_end)

    def _reap(self) -> None:
        """Reap our own children: the forker, and orphans (a job child among them when the
        forker died before it)."""
        for pid, code in procs.reap_any():
            if pid == self.forker_pid:
                self._forker_gone()
            elif pid in self.pumps:
                self.ended.append((pid, code))

    def _settle(self) -> None:
        """Report ended children; first kill what a child that did not end cleanly left behind
        (its orphans re-parented here: every descendant but the forker's live subtree)."""
        self._reap()
        while self.ended:
            ended, self.ended = self.ended, []
            if any(code != CONTAINED for _pid, code in ended):
                procs.kill_tree(self.pid, skip=[self.forker_pid] if self.forker_pid else [], reap=self._reap)
            for pid, code in ended:
                if pid in self.pumps:
                    self._close(pid, code)

    def _close(self, pid: int, code: int | None = None) -> None:
        read_end, pump = self.pumps.pop(pid)
        self.by_fd.pop(read_end, None)
        while True:
            try:
                data = os.read(read_end, 1 << 16)
            except OSError:  # a writer still holds the pipe (passed away over a socket): stop here
                break
            if not data:
                break
            pump.feed(data)
        try:
            self.selector.unregister(read_end)
        except (KeyError, ValueError):
            pass
        os.close(read_end)
        pump.finish()
        usage = self.usage.pop(pid, None)
        if code is not None:
            self._send(("exited", pid, code, pump.summary(), usage))


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def serve(sock: socket.socket, preload: list[str]) -> None:
    """Start the forker (which preloads ``preload``) and serve until the service closes the
    socket or dies."""
    procs.become_subreaper()
    procs.die_with_parent(signal.SIGTERM)
    service_pid = int(os.environ.get("SC_SERVICE_PID") or 0)
    if service_pid and os.getppid() != service_pid:  # the service died before prctl took effect
        return
    for sig in (signal.SIGINT, signal.SIGHUP):  # Ctrl-C and a closed terminal are the service's to handle (it drains)
        signal.signal(sig, signal.SIG_IGN)
    Template(sock, preload).serve()


def main(argv: list[str]) -> None:
    sock = socket.socket(fileno=int(argv[1]))
    try:
        serve(sock, argv[2:])
    except (KeyboardInterrupt, ConnectionError):
        pass


if __name__ == "__main__":
    main(sys.argv)
