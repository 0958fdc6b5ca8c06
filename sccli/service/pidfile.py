"""The PID file: one live service per file, a stale file (its process gone) is replaced."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sccli.errors import Conflict, InvalidInput, NotFound


def read_pid(path: str | os.PathLike[str]) -> int:
    """The PID written in ``path``; NotFound or InvalidInput when there is none."""
    file = Path(path)
    try:
        text = file.read_text().strip()
    except FileNotFoundError:
        raise NotFound(f"PID file {file} not found (is the service running?)") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read PID file {file}: {exc.strerror}") from None
    if not text.isdigit():
        raise InvalidInput(f"PID file {file} does not hold a PID: {text[:40]!r}")
    return int(text)


def pid_alive(pid: int) -> bool:
    """True while the process exists and has not exited (a zombie awaiting its parent counts as gone)."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


class PidFile:
    """Holds an exclusive lock on the file while the service lives; the lock dies with the process."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> str | None:
        """Write our PID, or raise Conflict when another live service holds the file; the PID of
        a stale file that was replaced, if any."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            other = self.path.read_text().strip() or "?"
            raise Conflict(f"another service (pid {other}) is running with PID file {self.path}") from None
        old = os.read(fd, 64).decode(errors="replace").strip()
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        self._fd = fd
        return old or None

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = None


def signal_service(pid: int, twice: bool = False) -> None:
    """SIGTERM the service (it drains); ``twice``: a second SIGTERM, which stops at once."""
    import signal
    import time

    os.kill(pid, signal.SIGTERM)
    if twice:
        time.sleep(0.3)  # let the first one be handled: signals of one kind do not queue
        if pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
