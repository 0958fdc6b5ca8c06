"""Stopping jobs and services: timeout of a process tree, cancel, kill -9 recovery, SIGTERM drain."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil

from tests.conftest import StoreSpec, add_dataset
from tests.service.conftest import make_queue, new_job, process_gone, wait_for, write_settings


def test_timeout_kills_the_whole_process_group(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    settings = write_settings(tmp_path)
    queue = make_queue(sqlite_spec.open())
    marker = tmp_path / "sleep.pid"
    job_id = new_job(
        queue, "spawn_grandchild_sleep", parameters={"marker": str(marker), "timeout_seconds": 0.5}, max_attempts=1
    )
    service = services(sqlite_spec, settings, "--until-idle")
    sleep_pid = int(wait_for(lambda: marker.exists() and marker.read_text(), what="grandchild sleep"))
    assert service.wait() == 0, service.log()
    job = queue.get_job(job_id)
    assert job["status"] == "failed" and job["errors"][-1]["kind"] == "timeout" and "timed out" in job["error"]
    wait_for(lambda: process_gone(sleep_pid), timeout=5, what="the grandchild sleep to be gone")
    assert Path(str(marker) + ".cleaned").read_text() == job_id  # the handler's cleanup ran after the kill


def test_cancel_of_a_running_job(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    settings = write_settings(tmp_path, handlers={"dataset_conversion": "tests.service.plugins:sleep_forever"})
    store = sqlite_spec.open()
    queue = make_queue(store, settings)
    dataset = add_dataset(store)
    marker = tmp_path / "handler.pid"
    job_id = queue.create_job(dataset, "dataset_conversion", {"marker": str(marker)})
    service = services(sqlite_spec, settings)
    handler_pid = int(wait_for(lambda: marker.exists() and marker.read_text(), what="handler start"))
    assert store.get_dataset(dataset)["status"] == "converting"
    queue.cancel(job_id, reason="operator said so")
    job = wait_for(lambda: (j := queue.get_job(job_id))["status"] == "cancelled" and j, timeout=10, what="cancelled")
    assert job["error"] == "operator said so"
    assert process_gone(handler_pid)
    dataset_doc = store.get_dataset(dataset)
    assert dataset_doc["status"] == "conversion error" and dataset_doc["error_message"] == "operator said so"
    service.proc.send_signal(signal.SIGTERM)
    assert service.wait() == 0


def test_kill_9_then_a_second_service_recovers_the_job(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    settings = write_settings(tmp_path)
    queue = make_queue(sqlite_spec.open())
    marker = tmp_path / "handler.pid"
    job_id = new_job(queue, "sleep_forever", parameters={"marker": str(marker)})
    first = services(sqlite_spec, settings)
    handler_pid = int(wait_for(lambda: marker.exists() and marker.read_text(), what="handler start"))
    os.kill(first.pid, signal.SIGKILL)
    first.proc.wait()
    wait_for(lambda: process_gone(handler_pid), timeout=5, what="the orphaned handler to die with its service")
    assert queue.get_job(job_id)["status"] == "running"
    marker.unlink()
    # the second service runs the same job type with a handler that finishes
    second = services(
        sqlite_spec, write_settings(tmp_path, handlers={"sleep_forever": "tests.service.plugins:ok"}), "--until-idle"
    )
    assert second.wait() == 0, second.log()
    job = queue.get_job(job_id)
    assert job["status"] == "completed" and job["attempts"] == 2 and job["pid"] == second.pid
    assert [e["kind"] for e in job["errors"]] == ["stale"]
    assert "recovered stale job" in second.log()


def test_sigterm_drains_then_releases(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    settings = write_settings(tmp_path, drain_seconds=1.0)
    queue = make_queue(sqlite_spec.open())
    marker = tmp_path / "forever.pid"
    quick = new_job(queue, "slow_ok", parameters={"seconds": 0.4})
    stuck = new_job(queue, "sleep_forever", parameters={"marker": str(marker)})
    service = services(sqlite_spec, settings)
    wait_for(lambda: marker.exists() and queue.get_job(quick)["status"] == "running", what="both jobs running")
    waiting = new_job(queue, "ok")  # pending: must not be claimed once draining
    service.proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    assert service.wait() == 0, service.log()
    assert time.monotonic() - started >= 0.9  # it waited for the drain period
    assert queue.get_job(quick)["status"] == "completed"
    released = queue.get_job(stuck)
    assert released["status"] == "pending" and released["attempts"] == 0 and released["errors"] == []
    assert queue.get_job(waiting)["status"] == "pending"
    assert process_gone(int(marker.read_text()))


def test_second_signal_stops_at_once(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    settings = write_settings(tmp_path, drain_seconds=60)
    queue = make_queue(sqlite_spec.open())
    marker = tmp_path / "forever.pid"
    stuck = new_job(queue, "sleep_forever", parameters={"marker": str(marker)})
    service = services(sqlite_spec, settings)
    wait_for(lambda: marker.exists(), what="handler start")
    service.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "draining" in service.log(), what="drain to start")
    service.proc.send_signal(signal.SIGTERM)
    assert service.wait(timeout=15) == 0, service.log()
    assert queue.get_job(stuck)["status"] == "pending" and queue.get_job(stuck)["attempts"] == 0


def test_sighup_drains_like_sigterm_and_says_so(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    """Issue 19: a closed ssh or tmux session (SIGHUP) killed the service with no drain and no log
    line, leaving its job running until it went stale."""
    settings = write_settings(tmp_path, drain_seconds=0.5)
    queue = make_queue(sqlite_spec.open())
    marker = tmp_path / "forever.pid"
    stuck = new_job(queue, "sleep_forever", parameters={"marker": str(marker)})
    service = services(sqlite_spec, settings)
    wait_for(lambda: marker.exists(), what="handler start")
    # A hangup reaches the terminal's whole process group: the service and its template and
    # forker (pytest shares that group here, so they are signalled one by one; jobs have their own).
    group = os.getpgid(service.pid)
    helpers = [p for p in psutil.Process(service.pid).children(recursive=True) if os.getpgid(p.pid) == group]
    assert helpers, "the service's template and forker share its process group"
    for proc in [psutil.Process(service.pid), *helpers]:
        proc.send_signal(signal.SIGHUP)
    assert service.wait(timeout=30) == 0, service.log()
    assert "SIGHUP received (the terminal or session closed): draining" in service.log()
    released = queue.get_job(stuck)
    assert released["status"] == "pending" and released["attempts"] == 0, released
    assert process_gone(int(marker.read_text()))
