"""The PID file: one live service per file, a stale file (its process gone) is replaced.

``sc service stop`` signals a PID only when it can prove the PID is the live service: the
service holds an exclusive ``flock`` on its PID file for as long as it lives, so a file nobody
has locked was left by a dead service (its PID may belong to anything now), and on Linux
``/proc/locks`` names the process that holds the lock.
"""

from __future__ import annotations

import fcntl
import os
from datetime import UTC, datetime
from pathlib import Path

from sccli.errors import Conflict, InvalidInput, NotFound

#: Kernel file systems: a PID file there is never one a service wrote (and may not be writable).
PSEUDO_ROOTS = ("/proc", "/sys", "/dev")


def check_pid_file_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path, or InvalidInput: a directory, or a place under /proc, /sys or /dev."""
    file = Path(path)
    real = os.path.realpath(file)
    pseudo = next((root for root in PSEUDO_ROOTS if real == root or real.startswith(root + "/")), None)
    if pseudo is not None:
        raise InvalidInput(f"PID file {str(file)[:200]} is under {pseudo}, a kernel file system: not for a PID file")
    try:
        directory = file.is_dir()
    except OSError as exc:  # a name too long, a loop of links
        raise InvalidInput(f"PID file {str(file)[:200]}: {exc.strerror or exc}") from None
    if directory:
        raise InvalidInput(f"PID file {str(file)[:200]} is a directory")
    return file


def read_pid(path: str | os.PathLike[str]) -> int:
    """The PID written in ``path``; NotFound or InvalidInput when there is none."""
    file = check_pid_file_path(path)
    try:  # a few bytes, without blocking: a PID file is short, and a FIFO named by mistake must not hang
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK)
        try:
            text = os.read(fd, 64).decode("utf-8", errors="replace").strip()
        finally:
            os.close(fd)
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
        a stale file that was replaced, if any; InvalidInput when the file cannot be created."""
        check_pid_file_path(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InvalidInput(f"PID file {str(self.path)[:200]} cannot be created: {exc.strerror or exc}") from None
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


def is_locked(path: str | os.PathLike[str]) -> bool:
    """Whether a live process holds the PID file's lock (a shared lock is refused while it does)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def lock_holder(path: str | os.PathLike[str]) -> int | None:
    """The pid that holds the ``flock`` on ``path``, from ``/proc/locks`` (None when unknown)."""
    try:
        info = os.stat(path)
        with open("/proc/locks") as locks:
            lines = locks.read().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if "->" in fields or len(fields) < 6 or fields[1] != "FLOCK":
            continue
        major, minor, inode = (fields[5].split(":") + ["", "", ""])[:3]
        try:
            same = (
                int(inode) == info.st_ino
                and int(major, 16) == os.major(info.st_dev)
                and int(minor, 16) == os.minor(info.st_dev)
            )
        except ValueError:
            continue
        if same:
            return int(fields[4])
    return None


def looks_like_service(pid: int) -> bool:
    """Whether ``pid``'s command line is ``sc service run`` / ``python -m sccli ... service run``."""
    import psutil

    try:
        args = psutil.Process(pid).cmdline()
    except psutil.Error:
        return False
    named = any("sccli" in arg or os.path.basename(arg) == "sc" for arg in args)
    return named and "service" in args and "run" in args


def started_by(pid: int, started_at: datetime | None) -> bool:
    """Whether ``pid`` is still the process that began before ``started_at``, not a later process
    that reused the PID (a naive ``started_at`` is UTC, as stores return it)."""
    import psutil

    if not isinstance(started_at, datetime):
        return True
    if started_at.tzinfo is None:
        started_at = started_at.replace(tzinfo=UTC)

    try:
        created = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True
    return created <= started_at.timestamp() + CREATE_TIME_SLACK


#: Seconds between a process's creation and its ``started_at``, allowed for clock granularity.
CREATE_TIME_SLACK = 2.0


def service_pid(path: str | os.PathLike[str]) -> int:
    """The PID of the live service that holds the PID file ``path``; an error when that is not proven.

    Refused: PID 0 or 1, a file whose lock nobody holds (stale: its PID may have been reused),
    a lock held by another process than the one named, and (where ``/proc/locks`` is missing) a
    process that is not an sccli service."""
    pid = read_pid(path)
    if pid <= 1:
        raise InvalidInput(f"PID file {path} names pid {pid}, which is never an sccli service; nothing signalled")
    if not is_locked(path):
        raise NotFound(f"no live service holds PID file {path} (stale; pid {pid} not signalled)")
    holder = lock_holder(path)
    if holder is not None and holder != pid:
        raise Conflict(f"PID file {path} names pid {pid} but pid {holder} holds its lock; nothing signalled")
    if holder is None and not looks_like_service(pid):
        raise Conflict(f"pid {pid} of PID file {path} is not an sccli service; nothing signalled")
    return pid


def signal_service(pid: int, twice: bool = False) -> None:
    """SIGTERM the service (it drains); ``twice``: a second SIGTERM, which stops at once."""
    import signal
    import time

    os.kill(pid, signal.SIGTERM)
    if twice:
        time.sleep(0.3)  # let the first one be handled: signals of one kind do not queue
        if pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
