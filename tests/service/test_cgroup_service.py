"""A real service with a delegated cgroup v2 memory controller, on a fake cgroup tree
(``SC_CGROUP_ROOT``): a limited job's child joins a cgroup of its own with ``memory.max`` before
its handler runs, and an ``oom_kill`` counted there fails the attempt with kind ``memory``.
What a fake tree cannot show (the kernel charging pages and killing) is listed in docs/resources.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import StoreSpec, add_dataset
from tests.service.conftest import make_queue, service_env, write_settings
from tests.service.test_cgroups import V2_ONLY, fake_host

MB = 1 << 20


def run_one(spec: StoreSpec, tmp_path: Path, services, *, oom: bool, limits: dict) -> tuple[dict, Path, Path]:
    root = tmp_path / "host"
    base = fake_host(root, V2_ONLY, "/system.slice/sccli.service", "cpu memory pids")
    settings = write_settings(tmp_path, handlers={"dataset_conversion": "tests.service.resource_plugins:oom"},
                              memory_check_seconds=0.05, **limits)
    store = spec.open()
    queue = make_queue(store, settings)
    final, marker, seen = tmp_path / "out" / "converted.idx", tmp_path / "partial-name", tmp_path / "seen"
    params = {"output_path": str(final), "marker": str(marker), "seen": str(seen), "oom": oom}
    job_id = queue.create_job(add_dataset(store), "dataset_conversion", params, max_attempts=3)
    service = services(spec, settings, "--until-idle", env=service_env(SC_CGROUP_ROOT=str(root)))
    assert service.wait(timeout=60) == 0, service.log()
    assert "own cgroup v2 under" in service.log()
    return queue.get_job(job_id), base, seen


def test_a_limited_job_joins_its_own_cgroup_and_an_oom_kill_there_is_kind_memory(
        sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    job, base, seen = run_one(sqlite_spec, tmp_path, services, oom=True,
                              limits={"memory_limit_mb_by_type": {"dataset_conversion": 512}})
    assert (base / "cgroup.subtree_control").read_text() == "+memory"
    group, pid = seen.read_text().split()
    attempt = Path(group)
    assert attempt.parent == base and attempt.name.startswith("sc-job-" + job["job_id"])
    assert (attempt / "memory.max").read_text() == str(512 * MB)
    assert (attempt / "cgroup.procs").read_text() == pid  # the child joined before its handler ran
    assert job["status"] == "failed" and job["attempts"] == 1, job  # not retried
    assert job["errors"][-1]["kind"] == "memory" and "limit 512 MB for dataset_conversion" in job["error"], job
    assert not Path((tmp_path / "partial-name").read_text()).exists()  # the cleanup ran


@pytest.mark.parametrize("limits", [{"memory_limit_mb": 512}, {}], ids=["limited", "no-limit"])
def test_a_job_within_its_limit_completes_and_one_without_a_limit_gets_no_cgroup(
        sqlite_spec: StoreSpec, tmp_path: Path, services, limits: dict) -> None:
    job, base, seen = run_one(sqlite_spec, tmp_path, services, oom=False, limits=limits)
    assert job["status"] == "completed", job
    group = seen.read_text().split("\n")[0]
    if limits:
        assert Path(group).parent == base
    else:
        assert group == "" and not list(base.glob("sc-job-*"))
