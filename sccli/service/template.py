"""The template process: imports sccli and the handler modules once, then forks one child per job.

Starting a Python interpreter costs ~100 ms; forking this warm, single-threaded one costs about a
millisecond, and each job still gets a process and a process group of its own. The service
(:class:`sccli.service.launcher.Launcher`) talks to it over a ``SOCK_SEQPACKET`` socket:

- request: a pickled dict ``{"id", "kind": "run"|"cleanup", "job", "settings", "log_dir", ...}``
  with one file descriptor attached, the child's end of the job's duplex socket; without
  ``settings`` the template uses the last settings it was sent;
- replies: ``("started", id, pid)``, ``("failed", id, text)`` and, when a child ends and its
  output is in its log, ``("exited", pid, exit_code, last_lines)`` (negative: killed by that signal).

Containment (Linux): the template is a child subreaper, so a job's orphans (``setsid``, double
fork) re-parent to the job's child or to the template, never to init. When a child ends without
having killed its own descendants, the template kills every process re-parented to it. When the
service dies (``PR_SET_PDEATHSIG`` sends SIGTERM) or closes the socket, it kills every process
below it, finishes the logs and exits.

Each child's stdout and stderr are a pipe read here into its job log through a
:class:`~sccli.service.joblog.LogPump`, which caps what an attempt can write.
"""

from __future__ import annotations

import gc
import importlib
import os
import pickle
import selectors
import signal
import socket
import sys
from typing import Any

from sccli.service import procs
from sccli.service.joblog import LogPump

MAX_MESSAGE = 1 << 20
#: Exit code of a child that ended normally after killing every process it had started.
CONTAINED = 0
DEFAULT_LOG_CAP = 10 * 1024 * 1024




class Template:
    """The fork loop: children by pid with the pump of their output."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pid = os.getpid()
        self.pumps: dict[int, tuple[int, LogPump]] = {}  # child pid -> (output pipe read end, pump)
        self.by_fd: dict[int, int] = {}  # output pipe read end -> child pid
        self.ended: list[tuple[int, int]] = []
        self.settings: Any = None
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
        for end in (self.wake_r, self.wake_w):
            os.set_blocking(end, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.signal(signal.SIGTERM, self._on_term)
        self.selector.register(self.sock, selectors.EVENT_READ)
        self.selector.register(self.wake_r, selectors.EVENT_READ)
        try:
            while not self.stopping:
                for key, _ in self.selector.select():
                    if key.fileobj is self.sock:
                        self.stopping = self.stopping or not self._receive()
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

    # -- children ---------------------------------------------------------------------------
    def _receive(self) -> bool:
        message, fds, _flags, _addr = socket.recv_fds(self.sock, MAX_MESSAGE, 1)
        if not message:
            return False
        request = pickle.loads(message)
        if "settings" in request:
            self.settings = request["settings"]
        else:
            request["settings"] = self.settings
        if not fds:
            self._send(("failed", request.get("id"), "no socket passed with the request"))
            return True
        self._fork(request, fds[0])
        return True

    def _fork(self, request: dict[str, Any], fd: int) -> None:
        from sccli.service.child import flush_output, job_log_path

        job = request.get("job") or {}
        cap = getattr(request.get("settings"), "job_log_max_bytes", DEFAULT_LOG_CAP)
        try:
            pump = LogPump(job_log_path(request["log_dir"], str(job.get("job_id"))), cap)
            out_r, out_w = os.pipe()
            flush_output()
            pid = os.fork()
        except OSError as exc:
            os.close(fd)
            self._send(("failed", request.get("id"), f"cannot start a child: {exc}"))
            return
        if pid == 0:
            self._in_child(request, fd, out_r, out_w, pump)
        os.close(out_w)
        os.close(fd)
        try:
            os.setpgid(pid, pid)  # also set here so the group exists before the service can signal it
        except OSError:
            pass
        os.set_blocking(out_r, False)
        self.pumps[pid] = (out_r, pump)
        self.by_fd[out_r] = pid
        self.selector.register(out_r, selectors.EVENT_READ)
        self._send(("started", request.get("id"), pid))

    def _in_child(self, request: dict[str, Any], fd: int, out_r: int, out_w: int, pump: LogPump) -> None:
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            inherited = [self.sock.fileno(), self.wake_r, self.wake_w, out_r, pump.fd, self.selector.fileno()]
            for read_end, other in self.pumps.values():
                inherited += [read_end, other.fd]
            for end in inherited:
                try:
                    os.close(end)
                except OSError:
                    pass
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
            os.close(out_w)
            from sccli.service.child import run_child

            run_child(request, fd, self.pid)
        finally:
            os._exit(70)

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
        for pid, code in procs.reap_any():
            if pid in self.pumps:
                self.ended.append((pid, code))

    def _settle(self) -> None:
        """Report ended children; first kill what a child that did not end cleanly left behind."""
        self._reap()
        while self.ended:
            ended, self.ended = self.ended, []
            if any(code != CONTAINED for _pid, code in ended):
                alive = [pid for pid in self.pumps if pid not in {p for p, _ in ended}]
                procs.kill_tree(self.pid, skip=alive, reap=self._reap)
            for pid, code in ended:
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
        if code is not None:
            self._send(("exited", pid, code, pump.summary()))


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def serve(sock: socket.socket, preload: list[str]) -> None:
    """Preload modules, then fork a child per request until the service closes the socket or dies."""
    procs.become_subreaper()
    procs.die_with_parent(signal.SIGTERM)
    service_pid = int(os.environ.get("SC_SERVICE_PID") or 0)
    if service_pid and os.getppid() != service_pid:  # the service died before prctl took effect
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the service's to handle
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a broken plugin fails its jobs, not the template
            sys.stderr.write(f"sc service template: cannot preload {name}: {exc}\n")
    # Everything imported so far lives as long as the template: moved out of the collector's
    # reach, a child's collections never write to (and so copy) the pages it shares with us.
    from sccli.service.child import prepare_template

    prepare_template()
    gc.collect()
    gc.freeze()
    Template(sock).serve()


def main(argv: list[str]) -> None:
    sock = socket.socket(fileno=int(argv[1]))
    try:
        serve(sock, argv[2:])
    except (KeyboardInterrupt, ConnectionError):
        pass


if __name__ == "__main__":
    main(sys.argv)

