"""Stall detection beside the hard timeout: past its limit, a job of a type with
``stall_minutes_by_type`` runs on while its progress moves, and is stopped once it stops."""

from __future__ import annotations

from pathlib import Path

from sccli.queue import JobQueue
from tests.conftest import StoreSpec
from tests.service.conftest import PLUGINS, make_queue, new_job, wait_for, write_settings

HANG = {"progress_then_hang": "tests.service.stall_plugins:progress_then_hang"}
STALL = {"progress": 0.01, "progress_then_hang": 0.01}  # 0.6 s without progress


def test_a_job_whose_progress_moves_outlives_its_timeout(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    settings = write_settings(tmp_path, stall_minutes_by_type=STALL)
    queue = make_queue(sqlite_spec.open())
    job_id = new_job(queue, "progress", parameters={"seconds": 2.0, "timeout_seconds": 0.3}, max_attempts=1)
    service = services(sqlite_spec, settings, "--until-idle")
    assert service.wait() == 0, service.log()
    job = queue.get_job(job_id)
    assert job["status"] == "completed", job.get("error")


def test_without_stall_minutes_the_timeout_stays_hard(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    settings = write_settings(tmp_path)
    queue = make_queue(sqlite_spec.open())
    job_id = new_job(queue, "progress", parameters={"seconds": 2.0, "timeout_seconds": 0.3}, max_attempts=1)
    service = services(sqlite_spec, settings, "--until-idle")
    assert service.wait() == 0, service.log()
    job = queue.get_job(job_id)
    assert job["status"] == "failed" and job["errors"][-1]["kind"] == "timeout"


def test_a_job_whose_progress_stops_is_stopped(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    settings = write_settings(tmp_path, stall_minutes_by_type=STALL, handlers=HANG)
    queue = JobQueue(sqlite_spec.open(), actor="cli:test@host", extra_types={**PLUGINS, **HANG})
    job_id = new_job(queue, "progress_then_hang", parameters={"seconds": 1.5, "timeout_seconds": 0.3}, max_attempts=1)
    service = services(sqlite_spec, settings, "--until-idle")
    assert service.wait() == 0, service.log()
    job = wait_for(lambda: (j := queue.get_job(job_id))["status"] == "failed" and j, what="the stalled job to fail")
    assert job["errors"][-1]["kind"] == "timeout"
    assert "no progress for 1s (stall_minutes)" in job["error"], job["error"]
    elapsed = (job["completed_at"] - job["started_at"]).total_seconds() if job.get("completed_at") else None
    assert elapsed is not None and elapsed >= 1.5, job  # it ran past its 0.3 s limit while progress moved
