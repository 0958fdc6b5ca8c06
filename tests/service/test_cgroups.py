"""Detection of a delegated cgroup v2 memory controller and the attempt cgroups, on fake cgroup
trees in a temporary directory (this host has the memory controller on cgroup v1 only)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sccli.service import cgroups
from sccli.service.cgroups import JobCgroups, detect_memory_delegation, oom_killed, open_job_cgroups, peak_bytes

V1_AND_V2 = """cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
"""
V2_ONLY = "proc /proc proc rw 0 0\ncgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0\n"


def fake_host(root: Path, mounts: str, own: str, controllers: str, *, proc_cgroup: str | None = None) -> Path:
    """A root with proc/self/{mounts,cgroup} and the service's cgroup directory; that directory."""
    (root / "proc/self").mkdir(parents=True)
    (root / "proc/self/mounts").write_text(mounts)
    (root / "proc/self/cgroup").write_text(proc_cgroup if proc_cgroup is not None else f"4:memory:/x\n0::{own}\n")
    mount = next(line.split()[1] for line in mounts.splitlines() if " cgroup2 " in line)
    base = root / mount.lstrip("/") / own.lstrip("/")
    base.mkdir(parents=True)
    (base / "cgroup.controllers").write_text(controllers + "\n")
    (base / "cgroup.subtree_control").write_text("\n")
    (base / "cgroup.procs").write_text("101\n102\n")
    return base


def test_a_delegated_memory_controller_is_found(tmp_path: Path) -> None:
    base = fake_host(tmp_path, V2_ONLY, "/system.slice/sccli.service", "cpu io memory pids")
    assert detect_memory_delegation(tmp_path) == base


@pytest.mark.parametrize(("mounts", "own", "controllers"), [
    (V1_AND_V2, "/", "hugetlb"),  # this development host: memory on v1, v2 offers hugetlb only
    (V2_ONLY, "/system.slice/sccli.service", "cpu io pids"),  # v2 without memory for us
    (V2_ONLY, "/user.slice", ""),
])
def test_no_memory_controller_for_us_means_none(tmp_path: Path, mounts: str, own: str, controllers: str) -> None:
    fake_host(tmp_path, mounts, own, controllers)
    assert detect_memory_delegation(tmp_path) is None


def test_no_v2_mount_or_no_v2_line_means_none(tmp_path: Path) -> None:
    fake_host(tmp_path, V2_ONLY, "/a", "memory", proc_cgroup="4:memory:/a\n")  # v1 membership only
    assert detect_memory_delegation(tmp_path) is None
    (tmp_path / "proc/self/mounts").write_text("cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n")
    (tmp_path / "proc/self/cgroup").write_text("0::/a\n")
    assert detect_memory_delegation(tmp_path) is None
    assert detect_memory_delegation(tmp_path / "nothing-here") is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write a read-only file")
def test_a_cgroup_not_ours_to_write_means_none(tmp_path: Path) -> None:
    base = fake_host(tmp_path, V2_ONLY, "/system.slice/other.service", "memory pids")
    (base / "cgroup.subtree_control").chmod(0o444)
    assert detect_memory_delegation(tmp_path) is None


def test_a_restarted_service_in_its_leaf_finds_the_delegated_parent(tmp_path: Path) -> None:
    base = fake_host(tmp_path, V2_ONLY, "/system.slice/sccli.service", "memory")
    (base / cgroups.SERVICE_LEAF).mkdir()
    (tmp_path / "proc/self/cgroup").write_text(f"0::/system.slice/sccli.service/{cgroups.SERVICE_LEAF}\n")
    assert detect_memory_delegation(tmp_path) == base


def test_enable_moves_our_processes_to_a_leaf_and_turns_memory_on(tmp_path: Path) -> None:
    base = fake_host(tmp_path, V2_ONLY, "/s.service", "memory")
    found = open_job_cgroups("auto", tmp_path)
    assert found is not None and found.base == base
    assert (base / "cgroup.subtree_control").read_text() == "+memory"
    assert (base / cgroups.SERVICE_LEAF / "cgroup.procs").read_text() == "102"  # one pid per write (the last here)
    assert open_job_cgroups("off", tmp_path) is None


def test_an_attempt_cgroup_has_the_limit_no_swap_and_reports_an_oom_kill(tmp_path: Path) -> None:
    base = fake_host(tmp_path, V2_ONLY, "/s.service", "memory")
    job = JobCgroups(base)
    path = job.create("j1/../x-1234", 160 << 20)  # an odd attempt name stays one directory below base
    assert path.parent == base and path.name.startswith(cgroups.JOB_PREFIX)
    assert (path / "memory.max").read_text() == str(160 << 20) and not (path / "memory.swap.max").exists()
    assert not oom_killed(path) and peak_bytes(path) == 0
    (path / "memory.events").write_text("low 0\nhigh 0\nmax 12\noom 1\noom_kill 0\n")
    assert not oom_killed(path)
    (path / "memory.events").write_text("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n")
    (path / "memory.peak").write_text("170000000\n")
    assert oom_killed(path) and peak_bytes(path) == 170_000_000
    assert not job.remove(path)  # not empty (a real cgroup directory only holds kernel files)
    for f in path.iterdir():
        f.unlink()
    assert job.remove(path) and job.remove(path)  # gone: fine twice


def test_join_writes_the_callers_pid(tmp_path: Path) -> None:
    (tmp_path / "cgroup.procs").write_text("")
    cgroups.join(tmp_path)
    assert (tmp_path / "cgroup.procs").read_text() == str(os.getpid())


def test_this_host_has_no_delegated_memory_controller() -> None:
    """Written down: on the development host (cgroup v1 memory, v2 with hugetlb only) detection says no."""
    if not Path("/sys/fs/cgroup/unified").is_dir():
        pytest.skip("not the development host's cgroup layout")
    assert detect_memory_delegation() is None
