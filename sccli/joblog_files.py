"""Job log files ``<log_dir>/sc_job_<job_id>.log``, opened without ever following a link.

``log_dir`` defaults to ``/tmp`` (the contract), where anyone can plant ``sc_job_<id>.log`` as a
symbolic link (to ``/etc/passwd``, to another user's file) or a hard link before a job with a
predictable id starts. So every writer and reader opens the file here, relative to a descriptor of
``log_dir`` and with ``O_NOFOLLOW``: the service creates it with ``O_EXCL`` (or appends to the
regular file an earlier attempt of the same job left, if we own it and it has one name), and
``sc job logs``, the dashboard and the API read only a regular file with one name. A link, a FIFO
or a device is refused with :class:`UnsafeLogFile`, naming why, and is never written through or
displayed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

PREFIX = "sc_job_"
SUFFIX = ".log"
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
# O_NONBLOCK: opening a FIFO planted under the name must not hang the opener.
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class UnsafeLogFile(OSError):
    """A job log name that is a link, a special file or someone else's file: refused, not followed."""


def log_name(job_id: str) -> str | None:
    """The file name of a job's log, or None for an id that cannot name a file inside log_dir."""
    if not isinstance(job_id, str) or job_id in ("", ".", "..") or "\0" in job_id:
        return None
    if os.sep in job_id or (os.altsep and os.altsep in job_id):
        return None
    return f"{PREFIX}{job_id}{SUFFIX}"


def _name(job_id: str) -> str:
    name = log_name(job_id)
    if name is None:
        raise UnsafeLogFile(f"job id {job_id!r} cannot name a log file")
    return name


@contextmanager
def _directory(log_dir: str | os.PathLike[str]) -> Iterator[int]:
    fd = os.open(log_dir, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)


def _open_at(dir_fd: int, name: str, flags: int, mode: int = 0o600) -> int:
    try:
        return os.open(name, flags | _NOFOLLOW | _CLOEXEC, mode, dir_fd=dir_fd)
    except OSError as exc:
        problem = _not_regular(dir_fd, name)  # ELOOP for a link, ENXIO for a FIFO: say why
        if problem:
            raise UnsafeLogFile(f"{name} {problem}: refused, never followed") from None
        raise exc


def _not_regular(dir_fd: int, name: str) -> str | None:
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except OSError:
        return None
    if stat.S_ISLNK(mode):
        return "is a symbolic link"
    return None if stat.S_ISREG(mode) else "is not a regular file"


def _check(fd: int, name: str, *, owned: bool) -> None:
    """Refuse (closing ``fd``) anything but a regular file with one name (and ours when ``owned``)."""
    info = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = "is not a regular file"
    elif info.st_nlink != 1:
        problem = f"has {info.st_nlink} names (a hard link)"
    elif owned and hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        problem = f"belongs to uid {info.st_uid}, not to this service"
    if problem:
        os.close(fd)
        raise UnsafeLogFile(f"{name} {problem}: refused")


def open_for_append(log_dir: str | os.PathLike[str], job_id: str) -> int:
    """A descriptor to append the job's log to: created afresh, or the regular file we own that an
    earlier attempt of this job left. Raises UnsafeLogFile (a link, a special or foreign file) or
    OSError (log_dir cannot be opened)."""
    return open_name_for_append(log_dir, _name(job_id))


def open_name_for_append(log_dir: str | os.PathLike[str], name: str) -> int:
    """:func:`open_for_append` of the file ``name`` (a bare name) of ``log_dir``."""
    try:
        with _directory(log_dir) as dir_fd:
            return _append_at(dir_fd, name)
    except FileNotFoundError:  # the log directory was removed while the service ran
        os.makedirs(log_dir, exist_ok=True)
        with _directory(log_dir) as dir_fd:
            return _append_at(dir_fd, name)


def _append_at(dir_fd: int, name: str) -> int:
    flags = os.O_WRONLY | os.O_APPEND
    try:
        return _open_at(dir_fd, name, flags | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        pass
    fd = _open_at(dir_fd, name, flags | _NONBLOCK)
    _check(fd, name, owned=True)
    os.set_blocking(fd, True)
    return fd


def open_for_read(log_dir: str | os.PathLike[str], job_id: str) -> BinaryIO | None:
    """The job's log opened for reading, or None when there is none on this host. Raises
    UnsafeLogFile for a link, a special file or a file with more than one name."""
    return open_name_for_read(log_dir, _name(job_id))


def open_name_for_read(log_dir: str | os.PathLike[str], name: str) -> BinaryIO | None:
    """:func:`open_for_read` of the file ``name`` (a bare name) of ``log_dir``."""
    try:
        with _directory(log_dir) as dir_fd:
            fd = _open_at(dir_fd, name, os.O_RDONLY | _NONBLOCK)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None
    _check(fd, name, owned=False)
    return os.fdopen(fd, "rb")
