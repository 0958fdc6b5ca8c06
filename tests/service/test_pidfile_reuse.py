"""``sc service stop`` signals only a live sccli service: a PID file whose lock nobody holds (left by
a dead service, its PID reused), one naming PID 1, one whose lock another process holds, and a
``workers`` document whose PID now belongs to a later process are all refused, nothing signalled."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from sccli.clock import utcnow
from sccli.service.pidfile import lock_holder, service_pid
from tests.conftest import StoreSpec
from tests.service.conftest import ROOT, process_gone, service_env


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that is not an sccli service."""
    proc = subprocess.Popen(["sleep", "300"])
    yield proc
    proc.kill()
    proc.wait()


def sc(spec: StoreSpec, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "sccli", "--db", spec.url, "--db-name", spec.db_name, *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=service_env(), cwd=ROOT, timeout=60)


def stop(spec: StoreSpec, *args: str) -> subprocess.CompletedProcess[str]:
    return sc(spec, "service", "stop", "--wait", "1", *args)


def refused(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode not in (0, 70), result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and words in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_a_stale_pid_file_naming_a_live_process_is_not_signalled(
    sqlite_spec: StoreSpec, tmp_path: Path, sleeper
) -> None:
    pid_file = tmp_path / "sc.pid"
    pid_file.write_text(f"{sleeper.pid}\n")
    refused(stop(sqlite_spec, "--pid-file", str(pid_file)), "no live service holds PID file")
    assert sleeper.poll() is None and not process_gone(sleeper.pid)


def test_a_pid_file_naming_pid_1_is_not_signalled(sqlite_spec: StoreSpec, tmp_path: Path) -> None:
    pid_file = tmp_path / "sc.pid"
    pid_file.write_text("1\n")
    refused(stop(sqlite_spec, "--pid-file", str(pid_file)), "names pid 1")


def test_a_pid_file_locked_by_another_process_is_not_signalled(sqlite_spec: StoreSpec, tmp_path: Path, sleeper) -> None:
    pid_file = tmp_path / "sc.pid"
    pid_file.write_text(f"{sleeper.pid}\n")
    fd = os.open(pid_file, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the test holds the lock, the file names the sleeper
    try:
        if lock_holder(pid_file) is None:
            pytest.skip("/proc/locks does not name lock holders here")
        assert lock_holder(pid_file) == os.getpid()
        refused(stop(sqlite_spec, "--pid-file", str(pid_file)), f"pid {os.getpid()} holds its lock")
    finally:
        os.close(fd)
    assert sleeper.poll() is None


def test_a_live_service_is_proven_by_its_lock(tmp_path: Path) -> None:
    from sccli.service.pidfile import PidFile

    pid_file = PidFile(tmp_path / "sc.pid")
    pid_file.acquire()
    try:
        if lock_holder(pid_file.path) is None:
            pytest.skip("/proc/locks does not name lock holders here")
        assert service_pid(pid_file.path) == os.getpid()
    finally:
        pid_file.release()


def test_a_workers_document_whose_pid_was_reused_is_not_signalled(
    sqlite_spec: StoreSpec, tmp_path: Path, sleeper
) -> None:
    store = sqlite_spec.open()
    now = utcnow()
    store.upsert_worker({"worker_id": "ghost", "host": socket.gethostname(), "pid": sleeper.pid, "status": "running",
                         "started_at": now - timedelta(hours=1), "heartbeat_at": now, "slots": 1, "running_jobs": []})
    refused(stop(sqlite_spec), "no live service on")
    refused(stop(sqlite_spec, "--worker-id", "ghost"), "no live service ghost")
    assert sleeper.poll() is None
    rows = json.loads(sc(sqlite_spec, "service", "status", "--json").stdout)["items"]
    assert [(r["worker_id"], r["state"]) for r in rows] == [("ghost", "dead")]
