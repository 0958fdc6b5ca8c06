"""The template process: imports sccli and the handler modules once, then forks one child per job.

Starting a Python interpreter costs ~100 ms; forking this warm, single-threaded one costs about a
millisecond, and each job still gets a process and a process group of its own. The service
(:class:`sccli.service.launcher.Launcher`) talks to it over a ``SOCK_SEQPACKET`` socket:

- request: a pickled dict ``{"id", "kind": "run"|"cleanup", "job", "settings", "log_dir", ...}``
  with one file descriptor attached, the write end of the job's pipe;
- replies: ``("started", id, pid)``, ``("failed", id, text)`` and, when a child ends,
  ``("exited", pid, exit_code)`` (negative: killed by that signal).

The template exits when the service closes the socket, and dies with the service (Linux).
"""

from __future__ import annotations

import importlib
import os
import pickle
import selectors
import signal
import socket
import sys
from typing import Any

MAX_MESSAGE = 1 << 20


def _send(sock: socket.socket, message: tuple[Any, ...]) -> None:
    try:
        sock.send(pickle.dumps(message))
    except OSError:  # the service is gone: nothing left to serve
        os._exit(0)


def _fork_child(sock: socket.socket, request: dict[str, Any], fd: int, wakeup: tuple[int, int]) -> None:
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(fd)
        _send(sock, ("failed", request.get("id"), f"fork failed: {exc}"))
        return
    if pid == 0:
        try:
            signal.set_wakeup_fd(-1)
            sock.close()
            for end in wakeup:
                os.close(end)
            from sccli.service.child import run_child

            run_child(request, fd, os.getppid())
        finally:
            os._exit(70)
    os.close(fd)
    try:
        os.setpgid(pid, pid)  # also set here so the group exists before the service can signal it
    except OSError:
        pass
    _send(sock, ("started", request.get("id"), pid))


def _reap(sock: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send(sock, ("exited", pid, os.waitstatus_to_exitcode(status)))


def _receive(sock: socket.socket, wakeup: tuple[int, int]) -> bool:
    message, fds, _flags, _addr = socket.recv_fds(sock, MAX_MESSAGE, 1)
    if not message:
        return False
    request = pickle.loads(message)
    if not fds:
        _send(sock, ("failed", request.get("id"), "no pipe passed with the request"))
        return True
    _fork_child(sock, request, fds[0], wakeup)
    return True


def serve(sock: socket.socket, preload: list[str]) -> None:
    """Preload modules, then fork a child per request until the service closes the socket."""
    from sccli.service.child import die_with_parent

    die_with_parent(signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the service's to handle
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a broken plugin fails its jobs, not the template
            sys.stderr.write(f"sc service template: cannot preload {name}: {exc}\n")
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj is sock:
                if not _receive(sock, (wake_r, wake_w)):
                    return
            else:
                try:
                    os.read(wake_r, 4096)
                except BlockingIOError:
                    pass
        _reap(sock)


def main(argv: list[str]) -> None:
    sock = socket.socket(fileno=int(argv[1]))
    try:
        serve(sock, argv[2:])
    except (KeyboardInterrupt, ConnectionError):
        pass


if __name__ == "__main__":
    main(sys.argv)
