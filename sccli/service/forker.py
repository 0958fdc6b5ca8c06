"""The forker: the one process that forks job children, so that forking stays cheap.

A fork makes every page of the forking process copy-on-write, and each page it writes afterwards
costs it a page fault (and a copy while a child still shares the page). The template
(:mod:`sccli.service.template`) has much to do per job (the service's socket, log pipes, log
files), so it leaves the forking to this process, its only child of this kind, which does nothing
else: it holds the preloaded handler modules (their heap frozen, see :func:`serve`), and per
job it receives the request, forks, and says so; when a child ends it reaps it and says how.

Over a ``SOCK_SEQPACKET`` pair with the template, the messages of :mod:`sccli.service.protocol`:

- template → forker: :class:`~sccli.service.protocol.ForkRequest` with two descriptors attached,
  the child's end of the job's socket and the write end of its output pipe; its ``settings`` are
  pickled (None: the last ones still hold), its ``payload`` is the pickled request, unpickled by
  the child (less work here, where every page written costs a fault);
- forker → template: :class:`~sccli.service.protocol.Forked`,
  :class:`~sccli.service.protocol.StartFailed` and :class:`~sccli.service.protocol.Ended` (with
  the :class:`~sccli.service.resources.Usage` its reap measured).

The template is the subreaper: a job's orphans re-parent to it, never to the forker. The forker
dies with the template (``PR_SET_PDEATHSIG``) and its children die with it.
"""

from __future__ import annotations

import _signal
import gc
import importlib
import os
import pickle
import select
import signal
import socket
import sys
from typing import Any

from sccli.service import procs, resources
from sccli.service.protocol import MAX_MESSAGE, Channel, Ended, Forked, ProtocolError, StartFailed, decode, encode


class Forker:
    """The fork loop (in the forker process)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pid = os.getpid()
        self.settings: Any = None
        self.children: set[int] = set()
        self.wake_r, self.wake_w = os.pipe()
        self.stopping = False

    def serve(self) -> None:
        procs.wake_on_signals(self.wake_r, self.wake_w, self._on_term)
        waiting = [self.sock.fileno(), self.wake_r]
        try:
            while not self.stopping:
                try:
                    ready = select.select(waiting, [], [])[0]
                except InterruptedError:
                    ready = []
                if self.wake_r in ready:
                    procs.drain(self.wake_r)
                if self.sock.fileno() in ready:
                    self.stopping = self.stopping or not self._receive()
                self._reap()
        finally:
            procs.kill_tree(self.pid)

    def _on_term(self, signum: int, frame: Any) -> None:
        self.stopping = True  # the template died (parent-death signal) or is stopping

    def _send(self, message: Forked | StartFailed | Ended) -> None:
        try:
            self.sock.send(encode(message))
        except OSError:  # the template is gone: so are we, and our children with us
            self.stopping = True

    def _receive(self) -> bool:
        message, fds, _flags, _addr = socket.recv_fds(self.sock, MAX_MESSAGE, 2)
        if not message:
            return False
        try:
            request = decode(Channel.TO_FORKER, message)
        except ProtocolError:  # never from our own template: it is not one, stop
            for fd in fds:
                os.close(fd)
            return False
        if len(fds) != 2:
            for fd in fds:
                os.close(fd)
            self._send(StartFailed(request.request_id, "the job's socket and log pipe were not passed"))
            return True
        if request.settings is not None:
            self.settings = pickle.loads(request.settings)
        self._fork(request.request_id, request.job_type, request.payload, fds[0], fds[1])
        return True

    def _fork(self, request_id: int, job_type: str, payload: bytes, fd: int, out_w: int) -> None:
        from sccli.service.child import flush_output, prepare_job_type

        prepare_job_type(job_type, self.settings)  # once per type, here, instead of in every child
        try:
            flush_output()
            pid = os.fork()
        except OSError as exc:
            os.close(fd)
            os.close(out_w)
            self._send(StartFailed(request_id, f"cannot start a child: {exc}"))
            return
        if pid == 0:
            procs.exit_after(lambda: self._in_child(payload, fd, out_w))
        os.close(out_w)
        os.close(fd)
        try:
            os.setpgid(pid, pid)  # also set here so the group exists before the service can signal it
        except OSError:
            pass
        self.children.add(pid)
        self._send(Forked(request_id, pid))

    def _in_child(self, payload: bytes, fd: int, out_w: int) -> None:
        from sccli.service.child import run_child, set_handler

        signal.set_wakeup_fd(-1)
        set_handler(signal.SIGTERM, _signal.SIG_DFL)
        for end in (self.sock.fileno(), self.wake_r, self.wake_w):
            try:
                os.close(end)
            except OSError:
                pass
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        os.close(out_w)
        request = pickle.loads(payload)
        request["settings"] = self.settings
        run_child(request, fd, self.pid)

    def _reap(self) -> None:
        for pid, code, usage in resources.reap_with_usage():
            if pid in self.children:
                self.children.discard(pid)
                self._send(Ended(pid, code, usage))


def run(sock: socket.socket, preload: list[str], template_pid: int) -> None:
    """The forker's life, in a process just forked from the template: preload the handler
    modules, freeze the heap, fork a child per request until the template goes; never returns."""
    procs.exit_after(lambda: _live(sock, preload, template_pid))


def _live(sock: socket.socket, preload: list[str], template_pid: int) -> None:
    procs.die_with_parent(signal.SIGTERM)
    if os.getppid() != template_pid:  # the template died before prctl took effect
        return
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a broken plugin fails its jobs, not the forker
            sys.stderr.write(f"sc service forker: cannot preload {name}: {exc}\n")
    from sccli.service.child import prepare_template

    prepare_template()
    # Everything imported so far lives as long as the forker: moved out of the collector's
    # reach, a child's collections never write to (and so copy) the pages it shares with us.
    gc.collect()
    gc.freeze()
    Forker(sock).serve()
