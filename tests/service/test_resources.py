"""What a job attempt used, on record, and the memory limit on its process tree (real services)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sccli.cli.app import app
from sccli.queue import JobQueue
from sccli.settings import load_settings
from sccli.store.base import JobQuery, Store
from tests.conftest import StoreSpec, add_dataset
from tests.service.conftest import PLUGINS, make_queue, new_job, process_gone, wait_for, write_settings

RESOURCE_PLUGINS = {name: f"tests.service.resource_plugins:{name}" for name in ("busy", "hog")}
MB = 1 << 20


def resource_queue(store: Store, settings: Path) -> JobQueue:
    types = {**PLUGINS, **RESOURCE_PLUGINS}
    return JobQueue(store, actor="cli:test@host", extra_types=types, settings=load_settings(settings))


def sc(spec: StoreSpec, *args: str) -> Any:
    return CliRunner().invoke(app, ["--db", spec.url, "--db-name", spec.db_name, *args], catch_exceptions=False)


def test_an_attempt_records_cpu_memory_and_io_of_its_tree(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    settings = write_settings(tmp_path, handlers=RESOURCE_PLUGINS)
    queue = resource_queue(sqlite_spec.open(), settings)
    out = tmp_path / "out" / "busy.bin"
    params = {"cpu": 0.15, "tool_cpu": 0.3, "mb": 100, "io_mb": 12, "output_path": str(out)}
    job_id = new_job(queue, "busy", parameters=params)
    service = services(sqlite_spec, settings, "--until-idle")
    assert service.wait() == 0, service.log()
    job = queue.get_job(job_id)
    assert job["status"] == "completed", job
    [used] = job["resources"]
    assert used["attempt"] == 1 and used["worker"] == job["worker_id"]
    assert used["cpu_seconds"] >= 0.4  # its own 0.15 s and the tool's 0.3 s (reaped: counted)
    assert abs(used["cpu_seconds"] - used["user_seconds"] - used["system_seconds"]) <= 0.002
    assert used["peak_rss_bytes"] >= 100 * MB
    assert used["write_bytes"] >= 12 * MB and used["read_bytes"] >= 12 * MB
    assert "memory_limit_bytes" not in used

    shown = sc(sqlite_spec, "job", "show", job_id)
    assert shown.exit_code == 0, shown.output
    table = shown.stdout[shown.stdout.index("Resources"):]
    row = table.splitlines()[2].split()  # the heading, the columns, attempt 1
    assert row[:3] == ["1", f"{used['cpu_seconds']:.2f}", "s"] and row[4] == "MB" and 100 <= float(row[3]) < 1024
    assert json.loads(sc(sqlite_spec, "job", "show", job_id, "--json").stdout)["resources"] == [used]
    report = json.loads(sc(sqlite_spec, "monitor", "report", "--json").stdout)["resources"]
    peak, cpu = used["peak_rss_bytes"], used["cpu_seconds"]
    assert report["sampled_jobs"] == 1 and report["by_job_type"] == [{
        "job_type": "busy", "attempts": 1, "p50_peak_rss_bytes": peak, "p95_peak_rss_bytes": peak,
        "p50_cpu_seconds": cpu, "p95_cpu_seconds": cpu}]
    printed = sc(sqlite_spec, "monitor", "report").stdout
    assert "Resources by job type" in printed and "P95 PEAK MEM" in printed


@pytest.mark.parametrize("own_session", [False, True], ids=["same-group", "setsid-tool"])
def test_a_job_over_its_memory_limit_fails_with_kind_memory_and_no_partial(
        sqlite_spec: StoreSpec, tmp_path: Path, services, own_session: bool) -> None:
    settings = write_settings(tmp_path, handlers={"dataset_conversion": "tests.service.resource_plugins:hog"},
                              memory_limit_mb=4096, memory_limit_mb_by_type={"dataset_conversion": 160},
                              memory_check_seconds=0.05)
    store = sqlite_spec.open()
    queue = make_queue(store, settings)
    dataset = add_dataset(store)
    final, marker = tmp_path / "out" / "converted.idx", tmp_path / "partial-name"
    tool_pid = tmp_path / "tool.pid"
    params = {"output_path": str(final), "mb": 400, "marker": str(marker), "own_session": own_session,
              "tool_pid_file": str(tool_pid), "timeout_seconds": 40}  # a watchdog that misses it: a timeout, not a hang
    job_id = queue.create_job(dataset, "dataset_conversion", params, max_attempts=3)
    service = services(sqlite_spec, settings, "--until-idle")
    assert service.wait(timeout=60) == 0, service.log()
    job = queue.get_job(job_id)
    assert job["status"] == "failed" and job["attempts"] == 1, job  # not retried: the same input needs the same memory
    assert job["errors"][-1]["kind"] == "memory", job
    assert job["error"].startswith("memory limit exceeded: used ")
    assert "limit 160 MB for dataset_conversion" in job["error"]
    [used] = job["resources"]
    assert used["memory_limit_bytes"] == 160 * MB and used["peak_rss_bytes"] > 160 * MB
    partial = Path(marker.read_text())
    assert partial.parent == final.parent and not partial.exists() and not final.exists()
    assert list(final.parent.iterdir()) == []
    assert store.get_dataset(dataset)["status"] == "failed"
    assert not store.find_jobs(JobQuery(parent_job_id=job_id))
    wait_for(lambda: process_gone(int(tool_pid.read_text())), timeout=10, what="the tool to be gone")
