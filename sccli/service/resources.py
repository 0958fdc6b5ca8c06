"""What an attempt cost (CPU, peak memory, I/O), and the memory limit on a job's process tree.

Measured where it is exact and cheap. The forker reaps each job child with ``wait4``: its rusage
covers the child and every descendant the child waited for, and a job child is a subreaper that
reaps whatever its handler started, orphans included. ``ru_maxrss`` is the largest peak of any one
of those processes. Around that reap the forker reads its own ``/proc/self/io``: Linux adds a
reaped child's I/O counts (with those of the descendants it reaped) to its parent's, so the
difference is the attempt's bytes through ``read``/``write`` calls (``rchar``/``wchar``: page cache
hits, pipes and sockets included, so the job log counts as written).

The memory limit (settings ``memory_limit_mb``, ``memory_limit_mb_by_type``) is enforced by the
service: every ``memory_check_seconds`` it sums the resident set of each process in the job's
tree (:func:`tree_rss_bytes`) and kills the job's process group once the sum is over the limit.
A job child starts as a fork of the forker, so its resident set starts with the pages it shares
with the forker (the preloaded modules, some tens of MB): the limit and the figures count them.
When the service was delegated a cgroup v2 memory controller (:mod:`sccli.service.cgroups`), each
job child also joins a cgroup of its own with ``memory.max`` = the limit: the kernel counts each
page once and stops the tree, and an ``oom_kill`` there ends the attempt as ``memory`` too.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sccli.service import cgroups, procs
from sccli.usage import human_bytes

if TYPE_CHECKING:
    from sccli.service.running import RunningJob

log = logging.getLogger("sccli.service")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
#: ``ru_maxrss`` is in KiB on Linux (bytes on macOS).
_MAXRSS_UNIT = 1 if os.uname().sysname == "Darwin" else 1024


@dataclass(frozen=True)
class Usage:
    """What a reaped child and the descendants it reaped used (forker → template → service)."""

    user_seconds: float
    system_seconds: float
    max_rss_bytes: int
    #: Bytes through read/write calls (``rchar``/``wchar``); None where /proc is missing.
    read_bytes: int | None = None
    write_bytes: int | None = None


def _own_io() -> tuple[int, int] | None:
    """This process's ``rchar`` and ``wchar`` (those of its reaped children included)."""
    try:
        fd = os.open("/proc/self/io", os.O_RDONLY)
        try:
            data = os.read(fd, 1024)
        finally:
            os.close(fd)
    except OSError:
        return None
    fields = dict(line.split(b": ", 1) for line in data.splitlines() if b": " in line)
    try:
        return int(fields[b"rchar"]), int(fields[b"wchar"])
    except (KeyError, ValueError):
        return None


def reap_with_usage() -> list[tuple[int, int, Usage]]:
    """Reap every ended child without blocking: ``(pid, exit code, usage)`` of each."""
    ended: list[tuple[int, int, Usage]] = []
    before = _own_io()  # nothing but these reaps runs in between: each reading serves twice
    while True:
        try:
            pid, status, rusage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return ended
        if pid == 0:
            return ended
        after = _own_io()
        io = (None, None) if before is None or after is None else (after[0] - before[0], after[1] - before[1])
        usage = Usage(rusage.ru_utime, rusage.ru_stime, rusage.ru_maxrss * _MAXRSS_UNIT, *io)
        ended.append((pid, os.waitstatus_to_exitcode(status), usage))
        before = after


def rss_bytes(pid: int) -> int:
    """The resident set of one process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return _psutil_rss(pid)


def _psutil_rss(pid: int) -> int:
    import psutil

    try:
        return int(psutil.Process(pid).memory_info().rss)
    except (psutil.Error, OSError):
        return 0


def tree_rss_bytes(root: int) -> int:
    """The resident sets of ``root`` and of its live descendants, summed (shared pages counted
    in each process: an upper bound of what the tree holds)."""
    return rss_bytes(root) + sum(rss_bytes(pid) for pid in procs.live_descendants(root))


def memory_message(used: int, limit: int, job_type: str) -> str:
    """The error of an attempt killed for its memory."""
    return (f"memory limit exceeded: used {human_bytes(used)}, limit {human_bytes(limit)} for {job_type}; "
            "process group killed")


class MemoryWatch:
    """The service's memory watchdog: samples the trees of running jobs that have a limit; with
    ``groups`` (a delegated cgroup v2 controller) it also puts each such job in a cgroup."""

    def __init__(self, interval: float, groups: cgroups.JobCgroups | None = None) -> None:
        self.interval = interval
        self.next_at = 0.0
        self.groups = groups

    @classmethod
    def for_settings(cls, settings: Any) -> MemoryWatch:
        """The watchdog of a service, with attempt cgroups when delegated (``memory_cgroups``)."""
        return cls(settings.memory_check_seconds, cgroups.open_job_cgroups(settings.memory_cgroups))

    def place(self, rj: RunningJob, request: dict[str, Any]) -> dict[str, Any]:
        """``request``; for a job under a limit (when delegated), with a cgroup of its own named in
        it, which the child joins before its handler runs. A refused cgroup leaves the watchdog alone."""
        if self.groups is None or rj.memory_limit is None:
            return request
        try:
            rj.cgroup = self.groups.create(str(rj.job_id) + "-" + str(rj.job.get("attempts")), rj.memory_limit)
        except OSError as exc:
            log.warning("job %s: no cgroup (%s); the watchdog enforces its memory limit", rj.job_id, exc)
            return request
        return {**request, "cgroup": str(rj.cgroup)}

    def ended(self, rj: RunningJob) -> None:
        """The handler ended: one the kernel killed for want of memory in its cgroup ended for its memory."""
        if rj.cgroup is None:
            return
        rj.peak_rss = max(rj.peak_rss, cgroups.peak_bytes(rj.cgroup))
        if rj.reason is None and cgroups.oom_killed(rj.cgroup):
            rj.reason = "memory"

    def release(self, rj: RunningJob) -> None:
        """Remove the attempt's cgroup (left for the next service start's sweep while busy)."""
        if self.groups is not None and rj.cgroup is not None:
            self.groups.remove(rj.cgroup)

    def wake_at(self, jobs: Iterable[RunningJob]) -> list[float]:
        """When the service must look again (nothing when no running job has a limit)."""
        return [self.next_at] if any(rj.memory_watched for rj in jobs) else []

    def over_limit(self, jobs: Iterable[RunningJob], now: float) -> list[RunningJob]:
        """Sample every watched job when due (keeping each one's peak); the jobs over their limit."""
        if now < self.next_at:
            return []
        self.next_at = now + self.interval
        over = []
        for rj in jobs:
            if rj.memory_watched:
                assert rj.child is not None and rj.memory_limit is not None
                rj.peak_rss = max(rj.peak_rss, tree_rss_bytes(rj.child.pid))
                if rj.peak_rss > rj.memory_limit:
                    over.append(rj)
        return over


def attempt_resources(rj: RunningJob) -> dict[str, Any] | None:
    """The attempt's entry of the job's ``resources`` list (None when nothing was measured)."""
    usage: Usage | None = rj.usage
    if usage is None and not rj.peak_rss:
        return None
    entry: dict[str, Any] = {"attempt": rj.job.get("attempts"), "worker": rj.job.get("worker_id")}
    if usage is not None:
        entry.update(cpu_seconds=round(usage.user_seconds + usage.system_seconds, 3),
                     user_seconds=round(usage.user_seconds, 3), system_seconds=round(usage.system_seconds, 3))
    entry["peak_rss_bytes"] = max(rj.peak_rss, usage.max_rss_bytes if usage else 0)
    if usage is not None and usage.read_bytes is not None:
        entry.update(read_bytes=usage.read_bytes, write_bytes=usage.write_bytes)
    if rj.memory_limit is not None:
        entry["memory_limit_bytes"] = rj.memory_limit
    return entry
