"""A job's processes end with the job: a process that ignores SIGTERM, a setsid daemon and a
double-forked one are all gone when the attempt ends (success or timeout) and within 2 s of the
service being killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from sccli.service import procs
from tests.conftest import StoreSpec
from tests.service.conftest import Service, make_queue, new_job, process_gone, wait_for, write_settings
from tests.service.plugins import ESCAPEES

pytestmark = pytest.mark.skipif(
    not procs.IS_LINUX, reason="containment of setsid and double-forked processes needs Linux"
)


def escapee_pids(pid_dir: Path, service: Service, *, check_alive: bool = True) -> dict[str, int]:
    """The pids the escape handler's three processes wrote, once all three exist."""
    files = {kind: pid_dir / f"{kind}.pid" for kind in ESCAPEES}
    try:
        wait_for(lambda: all(f.exists() and f.read_text() for f in files.values()), what="the three escapees")
    except AssertionError:
        logs = "\n".join(p.read_text() for p in (pid_dir.parent / "logs").glob("*.log"))
        raise AssertionError(f"no escapees; service log:\n{service.log()[-3000:]}\njob logs:\n{logs[-3000:]}") from None
    pids = {kind: int(f.read_text()) for kind, f in files.items()}
    assert not check_alive or all(not process_gone(pid) for pid in pids.values())
    return pids


def alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if not process_gone(pid)]


def tagged_alive(job_id: str) -> list[int]:
    """Live processes whose environment names the job (every process its child started)."""
    return alive(procs.tagged_processes("SC_JOB_ID", job_id))


def test_processes_left_by_a_successful_attempt_are_killed(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    queue = make_queue(sqlite_spec.open())
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    job_id = new_job(queue, "escape", parameters={"pid_dir": str(pid_dir), "finish": True})
    service = services(sqlite_spec, write_settings(tmp_path), "--until-idle")
    pids = escapee_pids(pid_dir, service, check_alive=False)  # the handler returns as soon as they run
    assert service.wait() == 0, service.log()
    job = queue.get_job(job_id)
    assert job["status"] == "completed" and job["result"]["alive_at_return"] == 3
    assert alive(list(pids.values())) == [] and tagged_alive(job_id) == []
    assert "process(es) the handler left running" in (tmp_path / "logs" / f"sc_job_{job_id}.log").read_text()


def test_processes_of_a_timed_out_attempt_are_killed(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    queue = make_queue(sqlite_spec.open())
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    job_id = new_job(queue, "escape", parameters={"pid_dir": str(pid_dir), "timeout_seconds": 1.0}, max_attempts=1)
    service = services(sqlite_spec, write_settings(tmp_path, kill_grace_seconds=0.3))
    pids = escapee_pids(pid_dir, service)
    job = wait_for(lambda: (j := queue.get_job(job_id))["status"] == "failed" and j, what="the timeout")
    assert job["errors"][-1]["kind"] == "timeout"
    assert alive(list(pids.values())) == [] and tagged_alive(job_id) == []
    service.proc.send_signal(signal.SIGTERM)
    assert service.wait() == 0, service.log()


def test_nothing_of_the_job_survives_a_kill_9_of_the_service(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    queue = make_queue(sqlite_spec.open())
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    job_id = new_job(queue, "escape", parameters={"pid_dir": str(pid_dir)})
    service = services(sqlite_spec, write_settings(tmp_path))
    pids = list(escapee_pids(pid_dir, service).values())
    # template, forker, job child, its tools
    below = [p.pid for p in psutil.Process(service.pid).children(recursive=True)]
    assert len(below) >= 3
    os.kill(service.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    service.proc.wait()
    wait_for(
        lambda: not alive(pids + below) and not tagged_alive(job_id), timeout=2.0,
        what="every process of the job to die",
    )
    took = time.monotonic() - killed_at
    assert took < 2.0
    assert queue.get_job(job_id)["status"] == "running"  # re-queued as stale by the next service
