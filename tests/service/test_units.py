"""Small pieces of the service: timeouts, served types, service states, the PID file."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from sccli.clock import utcnow
from sccli.errors import Conflict, InvalidInput
from sccli.service.config import job_timeout_seconds, served_types, validate_service_settings
from sccli.service.pidfile import PidFile, read_pid
from sccli.service.status import service_state
from sccli.settings import Settings


def test_job_timeout_is_timeout_minutes_or_a_tighter_timeout_seconds() -> None:
    job = {"job_type": "dataset_conversion", "timeout_minutes": 2, "parameters": {}}
    assert job_timeout_seconds(job) == 120
    assert job_timeout_seconds({**job, "parameters": {"timeout_seconds": 0.5}}) == 0.5
    assert job_timeout_seconds({**job, "parameters": {"timeout_seconds": 600}}) == 120  # never longer
    assert job_timeout_seconds({**job, "parameters": {"timeout_seconds": "soon"}}) == 120


def test_served_types_honour_types_and_offline(tmp_path: Path) -> None:
    known = ["data_validation", "file_upload", "google_sync", "ok"]
    assert served_types(Settings(), known) == known
    assert served_types(Settings(offline=True), known) == ["data_validation", "ok"]
    assert served_types(Settings(types=["google_sync", "ok"], offline=True), known) == ["ok"]


def test_validation_refuses_bad_caps_and_unknown_types(tmp_path: Path) -> None:
    dirs = {key: str(tmp_path) for key in ("in_data_dir", "out_data_dir", "sync_data_dir", "auth_dir")}
    with pytest.raises(InvalidInput, match="max_concurrent_by_type.dataset_conversion"):
        validate_service_settings(
            Settings(**dirs, log_dir=str(tmp_path), max_concurrent_by_type={"dataset_conversion": 0})
        )
    with pytest.raises(InvalidInput, match="types"):
        validate_service_settings(Settings(**dirs, log_dir=str(tmp_path), types=["nope"]))
    assert "google_sync" in validate_service_settings(Settings(**dirs, log_dir=str(tmp_path / "new-logs")))
    assert (tmp_path / "new-logs").is_dir()


def test_service_state_marks_dead_services() -> None:
    now = utcnow()
    fresh = {"status": "running", "heartbeat_at": now, "host": "elsewhere", "pid": 1}
    assert service_state(fresh, 60, now, "here") == "running"
    assert service_state({**fresh, "heartbeat_at": now - timedelta(seconds=61)}, 60, now, "here") == "dead"
    assert (
        service_state({**fresh, "status": "stopped", "heartbeat_at": now - timedelta(days=1)}, 60, now, "here")
        == "stopped"
    )
    # pid gone from this host
    assert service_state({**fresh, "host": "here", "pid": 2**22 + 7}, 60, now, "here") == "dead"
    assert (
        service_state({**fresh, "host": "here", "pid": os.getpid(), "status": "draining"}, 60, now, "here")
        == "draining"
    )


def test_pid_file_refuses_a_second_holder_and_replaces_a_stale_one(tmp_path: Path) -> None:
    path = tmp_path / "sc.pid"
    path.write_text("424242\n")
    first = PidFile(path)
    assert first.acquire() == "424242"
    assert read_pid(path) == os.getpid()
    with pytest.raises(Conflict, match=f"pid {os.getpid()}"):
        PidFile(path).acquire()
    first.release()
    assert not path.exists()
