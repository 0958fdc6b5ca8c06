"""cgroup v2 memory limits for job trees, when the service was delegated a v2 subtree with the
``memory`` controller (systemd ``Delegate=yes``; a container with its own cgroup namespace).

The kernel then counts each page of a job's tree once and stops the tree itself: each job child
joins its own cgroup ``<service cgroup>/sc-job-<attempt>`` (``memory.max`` = the job's limit,
``memory.swap.max`` 0) before its handler runs, and an attempt that ends with ``oom_kill`` in the
cgroup's ``memory.events`` fails with error kind ``memory``. Without a delegated controller (the
usual case: cgroup v1, or v2 without ``memory`` for us) the service's watchdog on the tree's RSS
(:class:`sccli.service.resources.MemoryWatch`) is the limit; it runs in both cases.

Everything is read under a root directory (``/``; tests use a fake tree in a temporary one):
``proc/self/mounts`` gives the cgroup2 mount, ``proc/self/cgroup`` the service's own v2 cgroup.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

log = logging.getLogger("sccli.service")

#: The leaf the service's own processes move to, so that its cgroup may enable ``memory`` for
#: its children (cgroup v2's no-internal-processes rule).
SERVICE_LEAF = "sc-service"
JOB_PREFIX = "sc-job-"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _v2_mount(mounts: str) -> str | None:
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "cgroup2":
            return parts[1]
    return None


def _own_v2_path(proc_cgroup: str) -> str | None:
    for line in proc_cgroup.splitlines():
        if line.startswith("0::"):
            return line[3:].strip() or "/"
    return None


def detect_memory_delegation(root: Path = Path("/")) -> Path | None:
    """The service's own cgroup v2 directory when it may put job trees under memory limits there:
    a cgroup2 mount exists, ``memory`` is in the directory's ``cgroup.controllers``, and the
    directory, its ``cgroup.procs`` and ``cgroup.subtree_control`` are writable by us. None
    otherwise (no v2 mount, v1 only, the controller not given to us, not ours to write)."""
    try:
        mount = _v2_mount((root / "proc/self/mounts").read_text())
        own = _own_v2_path((root / "proc/self/cgroup").read_text())
    except OSError:
        return None
    if mount is None or own is None:
        return None
    base = root / mount.lstrip("/") / own.lstrip("/")
    if base.name == SERVICE_LEAF:  # a restarted service already moved itself: its parent is the delegated one
        base = base.parent
    try:
        controllers = (base / "cgroup.controllers").read_text().split()
    except OSError:
        return None
    writable = all(os.access(p, os.W_OK) for p in (base, base / "cgroup.procs", base / "cgroup.subtree_control"))
    return base if "memory" in controllers and writable else None


class JobCgroups:
    """Cgroups of job attempts under the delegated ``base`` (see :func:`detect_memory_delegation`)."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def enable(self) -> None:
        """Move the processes of ``base`` to its leaf :data:`SERVICE_LEAF` and enable the
        ``memory`` controller for its children (OSError when the kernel refuses)."""
        control = self.base / "cgroup.subtree_control"
        if "memory" in control.read_text().split():
            return
        leaf = self.base / SERVICE_LEAF
        leaf.mkdir(exist_ok=True)
        for pid in (self.base / "cgroup.procs").read_text().split():
            try:
                (leaf / "cgroup.procs").write_text(pid)
            except ProcessLookupError:  # gone meanwhile
                pass
        control.write_text("+memory")

    def create(self, attempt: str, limit_bytes: int) -> Path:
        """A new cgroup for one attempt with ``memory.max`` = ``limit_bytes`` and no swap."""
        path = self.base / (JOB_PREFIX + _SAFE.sub("_", attempt))
        path.mkdir(exist_ok=True)
        (path / "memory.max").write_text(str(limit_bytes))
        swap = path / "memory.swap.max"
        if swap.exists():  # absent without swap accounting
            swap.write_text("0")
        return path

    def remove(self, path: Path) -> bool:
        """Remove an attempt's cgroup (its processes gone); False when it cannot be yet."""
        try:
            path.rmdir()
        except FileNotFoundError:
            return True
        except OSError:
            return False
        return True

    def sweep(self) -> int:
        """Remove the attempt cgroups a dead service left (empty ones only); how many."""
        return sum(self.remove(p) for p in self.base.glob(JOB_PREFIX + "*") if p.is_dir())


def join(path: Path) -> None:
    """Put the calling process (a job child, before its handler runs) into the cgroup ``path``;
    its descendants follow it there."""
    (path / "cgroup.procs").write_text(str(os.getpid()))


def oom_killed(path: Path) -> bool:
    """Whether the kernel killed a process of the cgroup for want of memory (``memory.events``)."""
    try:
        text = (path / "memory.events").read_text()
    except OSError:
        return False
    counts = dict(line.split(None, 1) for line in text.splitlines() if " " in line)
    return int(counts.get("oom_kill", "0").strip() or 0) > 0


def peak_bytes(path: Path) -> int:
    """The cgroup's peak memory (``memory.peak``, Linux 5.19+), 0 when unknown."""
    try:
        return int((path / "memory.peak").read_text().strip())
    except (OSError, ValueError):
        return 0


def open_job_cgroups(mode: str, root: Path | None = None) -> JobCgroups | None:
    """The attempt cgroups of this service (``mode`` ``auto``: when delegated; ``off``: never),
    enabled; None (the watchdog alone) otherwise. Says which in the service's log."""
    if mode == "off":
        return None
    root = root if root is not None else Path(os.environ.get("SC_CGROUP_ROOT") or "/")
    base = detect_memory_delegation(root)
    if base is None:
        log.debug("memory limits: no delegated cgroup v2 memory controller; the watchdog on the tree's RSS holds them")
        return None
    cgroups = JobCgroups(base)
    try:
        cgroups.enable()
        cgroups.sweep()
    except OSError as exc:
        log.warning("memory limits: cgroup v2 at %s refused (%s); the watchdog enforces them", base, exc)
        return None
    log.info("memory limits: each job's tree in its own cgroup v2 under %s (and the watchdog)", base)
    return cgroups
