"""systemd: the service speaks sd_notify (READY after the store, watchdog pings, STOPPING on a
drain, nothing inherited by jobs), and the shipped units pass ``systemd-analyze verify``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sccli.handlers import JobContext
from sccli.service.sdnotify import SystemdNotifier
from tests.conftest import StoreSpec
from tests.service.conftest import ROOT, make_queue, new_job, service_env, wait_for, write_settings


def env_probe(ctx: JobContext) -> dict[str, Any]:
    """Reports what a job child sees of systemd's variables."""
    return {
        "status": "ok", "message": "probed", "seen": {k: os.environ.get(k) for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC")},
    }


class NotifySocket:
    """A datagram socket standing in for systemd's notification socket."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []

    def collect(self, until: Any, timeout: float = 30.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while not until(self.messages) and time.monotonic() < deadline:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                pass
        return self.messages

    def close(self) -> None:
        self.sock.close()


def lines(messages: list[str]) -> list[str]:
    return [line for message in messages for line in message.splitlines()]


def test_service_notifies_ready_watchdog_and_stopping(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    settings = write_settings(tmp_path, handlers={"env_probe": "tests.service.test_systemd:env_probe"})
    notify = NotifySocket(tmp_path / "notify.sock")
    try:
        queue = make_queue(sqlite_spec.open(), settings)
        queue.extra_types = queue.extra_types | {"env_probe"}
        job_id = new_job(queue, "env_probe")
        service = services(
            sqlite_spec, settings, env=service_env(NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC="400000")
        )
        got = notify.collect(lambda m: "READY=1" in lines(m) and lines(m).count("WATCHDOG=1") >= 3)
        assert "READY=1" in lines(got), got
        assert f"MAINPID={service.pid}" in lines(got)
        assert lines(got).count("WATCHDOG=1") >= 3, got
        wait_for(lambda: queue.get_job(job_id)["status"] == "completed", what="the probe job")
        assert queue.get_job(job_id)["result"]["seen"] == {"NOTIFY_SOCKET": None, "WATCHDOG_USEC": None}
        service.proc.send_signal(signal.SIGTERM)
        assert service.wait() == 0
        notify.collect(lambda m: "STOPPING=1" in lines(m), timeout=5)
        assert "STOPPING=1" in lines(notify.messages)
    finally:
        notify.close()


def test_ready_only_after_the_store_answered(tmp_path: Path) -> None:
    """A notifier is ready once; outside systemd it sends nothing and never fails."""
    silent = SystemdNotifier.from_environment({})
    assert not silent.enabled and silent.send("READY=1") is False
    env = {"NOTIFY_SOCKET": str(tmp_path / "absent.sock"), "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}
    notifier = SystemdNotifier.from_environment(env)
    assert env == {}  # taken out of the environment: children never inherit them
    assert notifier.enabled and notifier.watchdog_seconds is None  # the watchdog is for another pid
    assert notifier.send("READY=1") is False  # nobody listening: not fatal


def _render(which: str, tmp_path: Path, *extra: str, log_dir: str = "/var/log/sccli") -> Path:
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"log_dir": log_dir, "in_data_dir": str(tmp_path / "in")}))
    env = service_env()
    env.pop("SC_DB_URL", None)
    env.pop("MONGO_URL", None)
    out = subprocess.run([sys.executable, "-m", "sccli", "--settings", str(settings), *extra, "service", "unit", which],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    path = tmp_path / ("sc-service.service" if which == "service" else "sc-api.service")
    path.write_text(out.stdout)
    return path


def test_units_are_hardened_and_filled_from_settings(tmp_path: Path) -> None:
    unit = _render("service", tmp_path, "--db", f"sqlite:///{tmp_path}/store/sc.db").read_text()
    assert "Type=notify" in unit and "WatchdogSec=" in unit and "NoNewPrivileges=yes" in unit
    assert "ProtectSystem=strict" in unit and "PrivateTmp=yes" in unit  # logs are not under /tmp here
    paths = next(line for line in unit.splitlines() if line.startswith("ReadWritePaths=")).split("=", 1)[1].split()
    assert "-/var/log/sccli" in paths and f"-{tmp_path}/in" in paths and f"-{tmp_path}/store" in paths
    assert f"Environment=SC_DB_URL=sqlite:///{tmp_path}/store/sc.db" in unit
    assert f"ExecStart={Path(sys.executable).parent / 'sc'} service run {tmp_path}/settings.json --log-json" in unit
    api = _render("api", tmp_path).read_text()
    assert "api serve" in api and "ProtectSystem=strict" in api
    in_tmp = _render("service", tmp_path, log_dir="/tmp").read_text()
    assert "PrivateTmp=no" in in_tmp  # the service, `sc job logs` and the API must see the same log files


def test_units_refuse_what_a_unit_file_cannot_hold(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "sccli", "service", "unit", "worker"], capture_output=True, text=True,
                         env=service_env(), cwd=ROOT, timeout=60)
    assert out.returncode == 2 and out.stderr.count("Error:") == 1 and "service, api" in out.stderr
    out = subprocess.run([sys.executable, "-m", "sccli", "service", "unit", "--user", "a b"], capture_output=True,
                         text=True, env=service_env(), cwd=ROOT, timeout=60)
    assert out.returncode == 2 and "cannot go into a unit file" in out.stderr


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed (Debian: systemd)"
)
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    for which in ("service", "api"):
        path = _render(which, tmp_path)
        out = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", str(path)], capture_output=True, text=True, timeout=60
        )
        # a bad directive only warns: no output allowed
        assert out.returncode == 0 and not out.stderr.strip(), out.stderr
