"""A service's signals: failure log lines (level and structured fields) and its own Prometheus metrics."""

from __future__ import annotations

import json
import os
import signal
import socket
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import StoreSpec
from tests.service.conftest import make_queue, new_job, wait_for, write_settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition by (name, sorted labels), parsed by prometheus_client."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def value(found: dict, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]  # type: ignore[no-any-return]


def test_failures_are_logged_at_warning_then_error_with_fields(
    sqlite_spec: StoreSpec, tmp_path: Path, services
) -> None:
    prom = tmp_path / "sc.prom"
    settings = write_settings(tmp_path, metrics_textfile=str(prom))
    queue = make_queue(sqlite_spec.open())
    flaky = new_job(queue, "fail", max_attempts=2)
    refused = new_job(queue, "permanent")
    done = new_job(queue, "ok")
    service = services(sqlite_spec, settings, "--until-idle", "--log-json", "--worker-id", "w-signals")
    assert service.wait() == 0
    records = [json.loads(line) for line in service.log().splitlines()]
    ends = {(r["job_id"], r["attempt"]): r for r in records if "outcome" in r}
    first, last = ends[(flaky, 1)], ends[(flaky, 2)]
    assert (first["level"], first["outcome"], first["kind"]) == ("warning", "retried", "error")
    assert (last["level"], last["outcome"], last["kind"]) == ("error", "failed", "error")
    assert ends[(refused, 1)]["level"] == "error" and ends[(refused, 1)]["kind"] == "permanent"
    assert ends[(done, 1)]["level"] == "info" and ends[(done, 1)]["outcome"] == "completed"
    for r in (first, last, ends[(done, 1)]):
        assert r["worker_id"] == "w-signals" and r["job_type"] in ("fail", "ok") and isinstance(r["duration_s"], float)
    # the textfile's last write (at the stop) counts every attempt, and zeros for what did not happen
    found = samples(prom.read_text())
    assert value(found, "sc_jobs_finished_total", job_type="fail", outcome="failed") == 1
    assert value(found, "sc_jobs_finished_total", job_type="ok", outcome="completed") == 1
    assert value(found, "sc_jobs_finished_total", job_type="ok", outcome="failed") == 0
    assert value(found, "sc_job_attempts_total", job_type="fail", outcome="retried", kind="error") == 1
    assert value(found, "sc_job_attempts_total", job_type="permanent", outcome="failed", kind="permanent") == 1
    assert value(found, "sc_job_attempts_total", job_type="slow_ok", outcome="completed", kind="none") == 0
    assert value(found, "sc_job_run_seconds_count", job_type="fail") == 2
    assert value(found, "sc_job_wait_seconds_count", job_type="ok") == 1
    assert value(found, "sc_job_wait_seconds_count", job_type="slow_ok") == 0


def test_metrics_port_serves_the_counters_while_running(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    port = free_port()
    settings = write_settings(tmp_path)
    queue = make_queue(sqlite_spec.open())
    service = services(sqlite_spec, settings, "--metrics-port", str(port))
    url = f"http://127.0.0.1:{port}/metrics"

    def scrape() -> dict:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return samples(response.read().decode())
        except OSError:
            return {}

    found = wait_for(scrape, what="the metrics endpoint")
    assert value(found, "sc_jobs_finished_total", job_type="ok", outcome="completed") == 0
    for _ in range(3):
        new_job(queue, "ok")
    wait_for(
        lambda: value(scrape(), "sc_jobs_finished_total", job_type="ok", outcome="completed") == 3,
        what="3 completions counted",
    )
    service.proc.send_signal(signal.SIGTERM)
    assert service.wait() == 0


def test_metrics_port_taken_is_one_error_line(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    settings = write_settings(tmp_path)
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        service = services(sqlite_spec, settings, "--metrics-port", str(busy.getsockname()[1]))
        code = service.wait()
    lines = service.log().strip().splitlines()
    assert code == 5 and len(lines) == 1 and lines[0].startswith("Error: cannot serve metrics on port"), service.log()


def test_a_recovered_stale_job_is_an_attempt_of_kind_stale(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    queue = make_queue(sqlite_spec.open())
    marker = tmp_path / "handler.pid"
    job_id = new_job(queue, "sleep_forever", parameters={"marker": str(marker)}, max_attempts=1)
    first = services(sqlite_spec, write_settings(tmp_path))
    wait_for(lambda: marker.exists() and marker.read_text(), what="handler start")
    os.kill(first.pid, signal.SIGKILL)
    first.proc.wait()
    prom = tmp_path / "second.prom"
    second = services(sqlite_spec, write_settings(tmp_path, metrics_textfile=str(prom)), "--until-idle", "--log-json")
    assert second.wait() == 0, second.log()
    assert queue.get_job(job_id)["status"] == "failed"  # its one attempt was used by the dead service
    found = samples(prom.read_text())
    assert value(found, "sc_job_attempts_total", job_type="sleep_forever", outcome="failed", kind="stale") == 1
    assert value(found, "sc_jobs_finished_total", job_type="sleep_forever", outcome="failed") == 1
    assert value(found, "sc_job_run_seconds_count", job_type="sleep_forever") == 0  # its run time is not known
    records = [json.loads(line) for line in second.log().splitlines()]
    (line,) = [r for r in records if r.get("job_id") == job_id and r.get("kind") == "stale"]
    assert line["level"] == "error" and line["outcome"] == "failed" and "recovered stale job" in line["message"]


def test_a_service_without_metrics_does_not_import_prometheus_client() -> None:
    import subprocess
    import sys

    code = "import sys, sccli.service.supervisor; print('prometheus_client' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )
