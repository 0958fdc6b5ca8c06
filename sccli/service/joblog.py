"""Bounded job logs: one child's output (its stdout, stderr and its tools') copied into the job log.

The template process reads each child's output pipe and writes it to ``sc_job_<job_id>.log``
through a :class:`LogPump`: the first half of ``job_log_max_bytes`` goes to the file as it comes,
the last half is kept in memory as a rolling tail and written, after a marker line saying how much
was left out, when the child's output ends. So an attempt that prints 1 GB adds at most the cap
(plus one marker line) to its log, and keeps both how it started and how it ended.
"""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path

from sccli.joblog_files import UnsafeLogFile, open_name_for_append

#: Bytes of the end of each attempt's output kept for the job's ``logs`` entry.
SUMMARY_BYTES = 4000
#: Lines of the end of each attempt's output kept for the job's ``logs`` entry.
SUMMARY_LINES = 20
#: ``job_log_max_bytes`` when the settings do not say.
DEFAULT_LOG_CAP = 10 * 1024 * 1024


def job_log_path(log_dir: str, job_id: str) -> Path:
    """Where a job's log file lives (the original's ``sc_job_<job_id>.log``)."""
    return Path(log_dir) / f"sc_job_{job_id}.log"


class LogPump:
    """Copies one child's output into a log file, keeping at most ``cap`` bytes of it (0: all)."""

    def __init__(self, path: Path, cap: int) -> None:
        self.path = path
        #: Why the log file was refused (a planted link, a foreign file): the output goes nowhere
        #: but to the job's ``logs`` summary, which says so.
        self.refused: str | None = None
        try:
            self.fd = open_name_for_append(path.parent, path.name)
        except UnsafeLogFile as exc:
            self.fd, self.refused = -1, f"[sccli: job log {path} refused, nothing written to it: {exc}]"
        self.cap = max(0, int(cap))
        self.head_left = self.cap - self.cap // 2 if self.cap else -1
        self.tail_cap = self.cap // 2
        self.tail: deque[bytes] = deque()
        self.tail_bytes = 0
        self.dropped = 0
        self.recent = b""
        self.total = 0

    def feed(self, data: bytes) -> None:
        """Take the next piece of output."""
        self.total += len(data)
        self.recent = (self.recent + data)[-SUMMARY_BYTES:]
        if self.head_left < 0:
            self._write(data)
            return
        if self.head_left > 0:
            head, data = data[: self.head_left], data[self.head_left:]
            self._write(head)
            self.head_left -= len(head)
        if data:
            self.tail.append(data)
            self.tail_bytes += len(data)
            while self.tail and self.tail_bytes - len(self.tail[0]) >= self.tail_cap:
                self.dropped += len(self.tail[0])
                self.tail_bytes -= len(self.tail.popleft())

    def finish(self) -> None:
        """The output ended: write the marker and the kept tail, close the file."""
        if self.fd < 0:
            self.tail.clear()
            return
        extra = self.tail_bytes - self.tail_cap
        tail = b"".join(self.tail)[max(0, extra):]
        self.dropped += max(0, extra)
        if self.dropped:
            self._write(f"\n[sccli: {self.dropped} bytes of output left out here (job_log_max_bytes = {self.cap}); "
                        f"the last {len(tail)} bytes follow]\n".encode())
        self._write(tail)
        self.tail.clear()
        os.close(self.fd)
        self.fd = -1

    def summary(self) -> str:
        """The last lines of the output (at most SUMMARY_LINES lines, SUMMARY_BYTES bytes)."""
        text = self.recent.decode("utf-8", errors="replace")
        if len(self.recent) == SUMMARY_BYTES and "\n" in text:
            text = text.split("\n", 1)[1]  # the first line was cut mid-way
        lines = text.rstrip("\n").split("\n")[-SUMMARY_LINES:]
        return "\n".join([self.refused, *lines[1:]] if self.refused else lines)

    def _write(self, data: bytes) -> None:
        if self.fd < 0:
            return
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.fd, view):]
            except OSError:  # a full disk loses log lines, never the job
                return
