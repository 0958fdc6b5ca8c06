"""The job log files ``<log_dir>/sc_job_<job_id>.log`` of jobs the cleanup deletes.

Only exact names are touched, each built from the id of a job that was deleted (never a
pattern), and only through a descriptor of ``log_dir`` itself: a name holds no path
separator, and ``unlink`` of a symbolic link removes the link, never what it points to, so
nothing outside ``log_dir`` can be reached. Directories, FIFOs and other special files that
happen to carry such a name are left alone.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sccli.joblog_files import PREFIX, SUFFIX, log_name

#: ``*at`` system calls (a descriptor of log_dir plus a bare name) where the platform has them.
_AT_CALLS = os.unlink in os.supports_dir_fd and os.stat in os.supports_dir_fd

__all__ = ["PREFIX", "SUFFIX", "JobLogFiles", "LogTally", "log_name"]


class LogTally:
    """Job log files removed (or, dry, that would be), their bytes, and those that could not be.
    A plain class, not a dataclass: the monitor's reads import this module (dataclasses: ~5 ms)."""

    def __init__(self) -> None:
        self.files = 0
        self.bytes = 0
        self.failed = 0
        self.first_error: str | None = None

    def fail(self, message: str) -> None:
        self.failed += 1
        self.first_error = self.first_error or message


class JobLogFiles:
    """The job logs of one ``log_dir`` (the settings' ``log_dir``; missing: nothing to do)."""

    def __init__(self, log_dir: str | os.PathLike[str]) -> None:
        self.log_dir = Path(log_dir)

    def remove(self, job_ids: Iterable[str], tally: LogTally) -> None:
        """Delete the log file of each of ``job_ids`` (a regular file, or a link as a link)."""
        with self._directory(tally) as fd:
            if fd is None:
                return
            for job_id in job_ids:
                name = log_name(job_id)
                if name is not None:
                    self._remove_one(fd, name, tally)

    def present(self, tally: LogTally) -> dict[str, int]:
        """``{job_id: bytes}`` of every entry of log_dir named exactly like a job log and
        removable (a regular file, or a link counted at 0 bytes): what a dry run measures."""
        found: dict[str, int] = {}
        try:
            with os.scandir(self.log_dir) as entries:
                for entry in entries:
                    if not (entry.name.startswith(PREFIX) and entry.name.endswith(SUFFIX)):
                        continue
                    job_id = entry.name[len(PREFIX) : -len(SUFFIX)]
                    size = self._size(entry)
                    if job_id and size is not None:
                        found[job_id] = size
        except FileNotFoundError:
            pass
        except OSError as exc:
            tally.fail(f"log_dir {self.log_dir} cannot be read: {exc.strerror or exc}")
        return found

    @contextmanager
    def _directory(self, tally: LogTally) -> Iterator[int | None]:
        """A descriptor of log_dir (``-1`` where the platform has no ``*at`` calls), or None."""
        if not _AT_CALLS:
            yield -1 if self.log_dir.is_dir() else None
            return
        try:
            fd = os.open(self.log_dir, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            yield None
            return
        except OSError as exc:
            tally.fail(f"log_dir {self.log_dir} cannot be opened: {exc.strerror or exc}")
            yield None
            return
        try:
            yield fd
        finally:
            os.close(fd)

    def _remove_one(self, fd: int, name: str, tally: LogTally) -> None:
        where = {"dir_fd": fd} if fd >= 0 else {}
        path = name if fd >= 0 else str(self.log_dir / name)
        try:
            info = os.stat(path, follow_symlinks=False, **where)
            if not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
                return
            os.unlink(path, **where)
        except FileNotFoundError:  # never written on this host, or removed meanwhile
            return
        except OSError as exc:
            tally.fail(f"{self.log_dir / name}: {exc.strerror or exc}")
            return
        tally.files += 1
        tally.bytes += info.st_size if stat.S_ISREG(info.st_mode) else 0

    @staticmethod
    def _size(entry: os.DirEntry[str]) -> int | None:
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            return None
        if stat.S_ISLNK(info.st_mode):
            return 0
        return info.st_size if stat.S_ISREG(info.st_mode) else None
