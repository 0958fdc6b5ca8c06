"""The shipped operations files against Debian's real Prometheus: the alert rules (``promtool check
rules``, ``promtool test rules``) and the Grafana dashboard (a real Prometheus scraping a real
``sc service run --metrics-port`` and a real ``sc api serve``; every panel's query returns series)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import StoreSpec, make_spec
from tests.service.conftest import Service, make_queue, new_job, wait_for, write_settings

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "examples" / "prometheus" / "alerts.yml"
ALERT_TESTS = ROOT / "tests" / "ops" / "alerts_test.yml"
DASHBOARD = ROOT / "examples" / "grafana" / "sccli.json"
TOKEN = "prometheus-token-0123456789abcdef"
#: What Grafana puts for ``$__rate_interval``: a few scrapes of this test's tiny interval.
RATE_INTERVAL = "5s"


def tool(name: str) -> str:
    """The path of a Prometheus tool; skipped when absent, except in CI as root (it must be installed there)."""
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed (Debian package prometheus; scripts/install-tools.sh installs it as root)"
        if os.environ.get("CI") == "true" and os.geteuid() == 0:
            pytest.fail(message)
        pytest.skip(message)
    return found


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def alert_names() -> list[str]:
    return [rule["alert"] for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def test_alert_rules_pass_promtool_check() -> None:
    done = subprocess.run([tool("promtool"), "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alert_names())} rules found" in done.stdout


def test_every_alert_has_a_promtool_unit_test_that_fires_it() -> None:
    names = alert_names()
    for needed in (
        "ScTypeWithoutLiveService",
        "ScOldestReadyJobTooOld",
        "ScStaleJobs",
        "ScJobFailureRatioHigh",
        "ScServiceDown",
        "ScRetentionNotRun",
    ):
        assert needed in names
    cases = [case for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"] for case in test["alert_rule_test"]]
    for name in names:
        assert any(c["alertname"] == name and c["exp_alerts"] for c in cases), f"no test fires {name}"
        assert any(c["alertname"] == name and not c["exp_alerts"] for c in cases), f"no test keeps {name} silent"
    done = subprocess.run(
        [tool("promtool"), "test", "rules", str(ALERT_TESTS)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout + done.stderr


def panel_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target of the dashboard, with Grafana's variables filled in."""
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (p["title"], t["expr"].replace("$__rate_interval", RATE_INTERVAL))
        for p in dashboard["panels"]
        for t in p["targets"]
    ]


class Prometheus:
    """A real Prometheus on its own port with temporary storage and a tiny scrape interval."""

    def __init__(self, tmp: Path, service_port: int, api_port: int) -> None:
        config = {
            "global": {"scrape_interval": "250ms", "evaluation_interval": "250ms"},
            "rule_files": [str(ALERTS)],
            "scrape_configs": [
                {"job_name": "sccli-service", "static_configs": [{"targets": [f"127.0.0.1:{service_port}"]}]},
                {
                    "job_name": "sccli-api",
                    "authorization": {"type": "Bearer", "credentials": TOKEN},
                    "static_configs": [{"targets": [f"127.0.0.1:{api_port}"]}],
                },
            ],
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.port = free_port()
        self.log = (tmp / "prometheus.log").open("wb")
        args = [
            tool("prometheus"),
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--storage.tsdb.retention.time=1h",
        ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.log, cwd=tmp)

    def query(self, expr: str) -> list[dict[str, Any]]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = json.loads(response.read())
        except OSError:
            return []
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[StoreSpec, Path, int, int]]:
    """A SQLite store with a running service (``--metrics-port``) and API; their ports."""
    spec = make_spec("sqlite", tmp_path)
    settings = write_settings(tmp_path, api_tokens={"prometheus": TOKEN})
    service_port, api_port = free_port(), free_port()
    service = Service(spec, settings, "--metrics-port", str(service_port))
    api_log = (tmp_path / "api.log").open("wb")
    api = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sccli",
            "--db",
            spec.url,
            "--db-name",
            spec.db_name,
            "--settings",
            str(settings),
            "api",
            "serve",
            "--port",
            str(api_port),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=api_log,
        cwd=ROOT,
    )
    try:
        yield spec, settings, service_port, api_port
    finally:
        for proc in (service.proc, api):
            proc.terminate()
        for proc in (service.proc, api):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        api_log.close()


def test_every_dashboard_panel_query_returns_series(tmp_path: Path, fleet: tuple[StoreSpec, Path, int, int]) -> None:
    tool("prometheus")
    spec, settings, service_port, api_port = fleet
    queue = make_queue(spec.open(), settings)
    for job_type in ("ok", "ok", "fail"):
        new_job(queue, job_type, max_attempts=1)
    prometheus = Prometheus(tmp_path, service_port, api_port)
    try:
        wait_for(
            lambda: len(prometheus.query("up == 1")) == 2,
            timeout=60,
            what="Prometheus scraping the service and the API",
        )
        started = time.monotonic()
        missing: list[str] = []

        def all_answer() -> bool:
            missing[:] = [f"{title}: {expr}" for title, expr in panel_queries() if not prometheus.query(expr)]
            return not missing

        answered = wait_for_quietly(all_answer, timeout=60)
        assert answered, f"panel queries without series after {time.monotonic() - started:.0f}s:\n" + "\n".join(missing)
        finished = prometheus.query('sum by (outcome) (sc_jobs_finished_total{job_type=~"ok|fail"})')
        assert {r["metric"]["outcome"]: float(r["value"][1]) for r in finished} == {
            "completed": 2.0,
            "failed": 1.0,
            "cancelled": 0.0,
        }
    finally:
        prometheus.stop()


def wait_for_quietly(predicate: Any, timeout: float) -> bool:
    """Like wait_for, but False (not a failure) at the ceiling: the caller names what is missing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False
