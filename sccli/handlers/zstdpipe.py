"""Writing ``.tar.zst`` as ``tar --zstd`` does: the tar stream goes into a ``zstd -c`` process of
its own (with ``-T<threads>`` worker threads) and its output comes back through a pipe, to be
hashed and written by the caller's sink, all in the caller's one thread (``poll`` on both pipes).

Why a process rather than ``zstandard``'s threads in ours: on a busy host the job's threads (the
tar writer, the hashing thread, zstd's workers) spent most of an attempt waiting for a CPU, every
hand-off of the GIL waiting again (docs/archives-speed.md); the archive is the same zstd format.
Without the ``zstd`` command the caller falls back to ``zstandard`` (:func:`zstd_command`).
"""

from __future__ import annotations

import fcntl
import os
import select
import shutil
import signal
import subprocess
import threading
from typing import Any, NoReturn, Protocol

from sccli.handlers.base import HandlerError
from sccli.handlers.idxzip import available_cores

#: Both pipes are raised to this size (Linux's default ``pipe-max-size``) and output is read in it.
PIPE_BYTES = 1024 * 1024
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class Sink(Protocol):
    """Where the compressed bytes go (a hashing, counting file)."""

    def write(self, data: Any) -> int: ...


def zstd_command() -> str | None:
    """The ``zstd`` command, or None (compress with the ``zstandard`` module instead)."""
    return shutil.which("zstd")


def compression_threads(requested: int | None, setting: int) -> int:
    """zstd worker threads, never more than the cores available: a job's ``threads`` when given
    (0: none, zstd compresses in its own thread), else ``setting`` (settings.compression_threads,
    0 meaning every core)."""
    cores = available_cores()
    if requested is not None:
        return min(requested, cores)
    return cores if setting <= 0 else min(setting, cores)


def _ignore_sigpipe() -> Any:
    """A job child runs with SIGPIPE's default action (death): while we write into zstd, a zstd
    that died must be an error of ours (EPIPE), not the end of the attempt. Returns the action to
    restore (None where signals cannot be set: not the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGPIPE, signal.SIG_IGN)


class ZstdPipeWriter:
    """A write-only file compressing into ``sink`` through ``zstd -<level> -T<threads> -c``."""

    def __init__(self, tool: str, sink: Sink, *, level: int, threads: int) -> None:
        self.sink = sink
        self.proc = subprocess.Popen([tool, f"-{level}", f"-T{threads}", "-q", "-c"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.fd_in, self.fd_out = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        for fd in (self.fd_in, self.fd_out):
            try:
                fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_BYTES)
            except OSError:  # a lower pipe-max-size: smaller pipes work too, with more wake-ups
                pass
            os.set_blocking(fd, False)
        self.buffer = memoryview(bytearray(PIPE_BYTES))
        self.poller = select.poll()
        self.poller.register(self.fd_in, select.POLLOUT)
        self.poller.register(self.fd_out, select.POLLIN)
        self.closed = False
        self.sigpipe = _ignore_sigpipe()

    def write(self, data: Any) -> int:
        """Feed ``data`` to zstd, passing on whatever output it has ready meanwhile (never both
        sides blocked: zstd may wait for us to read before it reads more)."""
        view = memoryview(data).cast("B")
        while view:
            for fd, events in self.poller.poll():
                if fd == self.fd_out:
                    self._drain(blocking=False)
                elif events & (select.POLLERR | select.POLLHUP):
                    self._failed("zstd stopped reading its input")
                elif view:
                    view = view[self._write_some(view):]
        return len(data)

    def _write_some(self, view: memoryview) -> int:
        try:
            return os.write(self.fd_in, view)
        except BlockingIOError:
            return 0
        except BrokenPipeError:
            self._failed("zstd stopped reading its input")

    def _drain(self, *, blocking: bool) -> bool:
        """Pass on what zstd has written; False at its end of output."""
        try:
            got = os.readv(self.fd_out, [self.buffer])
        except BlockingIOError:
            return True
        if got:
            self.sink.write(self.buffer[:got])
        elif not blocking:  # zstd closed its output before its input was done
            self._failed("zstd ended early")
        return got > 0

    def close(self) -> None:
        """End the input, pass on the rest of the output, and check zstd's exit (HandlerError)."""
        if self.closed:
            return
        self.closed = True
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        os.set_blocking(self.fd_out, True)
        while self._drain(blocking=True):
            pass
        if self.proc.wait() != 0:
            self._failed(f"exit code {self.proc.returncode}")
        self._close_pipes()

    def abort(self) -> None:
        """Stop zstd (the archive is abandoned) and reap it."""
        self.closed = True
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()
        if self.sigpipe is not None:  # None also when the old action was not Python's to restore
            signal.signal(signal.SIGPIPE, self.sigpipe)
            self.sigpipe = None

    def _failed(self, what: str) -> NoReturn:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        assert self.proc.stderr is not None
        words = self.proc.stderr.read(4096).decode(errors="replace").strip().splitlines()
        self.closed = True
        self._close_pipes()
        raise HandlerError(f"zstd failed: {words[-1] if words else what}")

    def __enter__(self) -> ZstdPipeWriter:
        return self

    def __exit__(self, kind: Any, *rest: Any) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()
