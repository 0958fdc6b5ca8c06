"""The clock of a SQLite store: the database file's, not the host's.

Services on several hosts (or processes whose clocks differ) that share one SQLite file must
judge heartbeats on one clock, or a host 60 s ahead re-queues live jobs and one 60 s behind
recovers dead ones a minute late. The clock no host can skew is the one that stamps the file's
modification time on a write: the kernel of the machine that holds the file (the file server
on a network file system). :class:`FileClock` measures the offset between this host's clock
and that one by writing a byte to ``<database>-clock`` and reading the stamp back, every few
seconds, and corrects the host's clock by it (as the MongoDB store does with the server's
``hello``). Where the file cannot be written, the host's clock is used as it is.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from sccli.clock import OffsetClock, utcnow

#: Seconds between two measurements of the offset (a host's clock drifts slowly; a step is
#: seen within this time).
CLOCK_REFRESH_SECONDS = 5.0
#: Offsets below this (plus the sample's round trip) are the measurement's own error: file
#: systems stamp with a coarse clock, up to a scheduler tick behind. The host's clock stands.
TOLERANCE = timedelta(milliseconds=50)


class FileClock(OffsetClock):
    """This host's clock corrected to the modification clock of a file beside the database."""

    def __init__(self, database: str) -> None:
        super().__init__(CLOCK_REFRESH_SECONDS)
        self.database = database

    def measure(self) -> timedelta:
        """The file clock minus this host's (the best of a few samples); zero within
        :data:`TOLERANCE`; the last offset when the file cannot be stamped."""
        if self.database == ":memory:" or not os.path.exists(self.database):
            return self.offset  # no file yet (a read command creates none): the host's clock
        try:
            fd = os.open(self.database + "-clock", os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
        except OSError:
            return self.offset
        try:
            _like_the_database(fd, self.database)
            trip, offset = min(_sample(fd) for _ in range(3))
        except OSError:
            return self.offset
        finally:
            os.close(fd)
        return timedelta(0) if abs(offset) < TOLERANCE + trip else offset


def _like_the_database(fd: int, database: str) -> None:
    """A clock file just created gets the database's mode and owner: whoever may write the
    database may stamp the clock (a root CLI command must not lock the service out of it)."""
    if os.fstat(fd).st_size:
        return
    info = os.stat(database)
    os.fchmod(fd, info.st_mode & 0o666)
    if os.geteuid() == 0:
        os.fchown(fd, info.st_uid, info.st_gid)


def _sample(fd: int) -> tuple[timedelta, timedelta]:
    """One round trip: (its length, the file's stamp minus this host's clock at its middle)."""
    sent = utcnow()
    os.pwrite(fd, b"\0", 0)  # a write, not utime(): the file system stamps it with its own clock
    stamp = os.fstat(fd).st_mtime_ns
    received = utcnow()
    return received - sent, datetime.fromtimestamp(stamp / 1e9, UTC) - (sent + (received - sent) / 2)
