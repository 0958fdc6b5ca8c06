"""`sc service run --until-idle` end to end: outcomes, chaining, dataset statuses, logs, settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sccli.service.child import job_log_path
from sccli.store.base import JobQuery
from tests.conftest import StoreSpec, add_dataset
from tests.service.conftest import make_queue, new_job, wait_for, write_settings

BUILTIN_AS_OK = {
    "google_sync": "tests.service.plugins:ok", "dataset_conversion": "tests.service.plugins:ok",
    "file_upload": "tests.service.plugins:ok",
}


def test_until_idle_completes_chains_and_fails(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    settings = write_settings(tmp_path, handlers=BUILTIN_AS_OK)
    store = sqlite_spec.open()
    queue = make_queue(store)
    dataset = add_dataset(store)
    sync = queue.create_job(dataset, "google_sync")
    plain = new_job(queue, "ok")
    failing = new_job(queue, "fail", max_attempts=2)
    service = services(sqlite_spec, settings, "--until-idle")
    assert service.wait() == 0, service.log()

    assert queue.get_job(sync)["status"] == "completed"
    conversion = store.find_jobs(JobQuery(parent_job_id=sync))
    assert [j["status"] for j in conversion] == ["completed"] and conversion[0]["job_type"] == "dataset_conversion"
    assert store.get_dataset(dataset)["status"] == "done"
    done = queue.get_job(plain)
    assert done["status"] == "completed" and done["result"]["message"] == "done"
    assert done["result"]["pid"] == done["result"]["pgid"] != service.pid  # own process, own group
    failed = queue.get_job(failing)
    assert failed["status"] == "failed" and failed["attempts"] == 2
    assert [e["kind"] for e in failed["errors"]] == ["error", "error"] and "planned failure" in failed["error"]
    assert f"worker:{done['host']}:{service.pid}" in {e["actor"] for e in store.find_events(plain)}
    log = job_log_path(str(tmp_path / "logs"), failing).read_text()
    assert log.count("planned failure") >= 2 and "Traceback" in log
    worker = store.list_workers()[0]
    assert worker["status"] == "stopped" and worker["pid"] == service.pid and worker["running_jobs"] == []
    assert set(worker) >= {
        "worker_id", "host", "pid", "started_at", "heartbeat_at", "status", "types", "slots", "offline", "running_jobs",
        "version",
    }


def test_progress_reaches_the_job(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    settings = write_settings(tmp_path)
    store = sqlite_spec.open()
    queue = make_queue(store)
    job_id = new_job(queue, "progress", parameters={"seconds": 1.5})
    service = services(sqlite_spec, settings, "--until-idle", "--log-json")
    seen = wait_for(lambda: (j := queue.get_job(job_id)) and 0 < j["progress_percentage"] < 100 and j, what="progress")
    assert "s of 1.5s" in seen["progress_message"]
    assert service.wait() == 0
    assert queue.get_job(job_id)["progress_percentage"] == 100
    records = [json.loads(line) for line in service.log().splitlines()]  # --log-json: one object per line
    assert {"ts", "level", "logger", "message"} <= set(records[0])
    # one INFO line per job, at its outcome, naming the attempt (the start is logged at DEBUG)
    assert any(
        r.get("job_id") == job_id
        and r.get("job_type") == "progress"
        and "completed" in r["message"]
        and "attempt 1 of" in r["message"]
        for r in records
    )


def run_cli(*args: str) -> Any:
    """``sc`` in-process; the result has ``returncode``, ``stdout`` and ``stderr``."""
    from typer.testing import CliRunner

    from sccli.cli.app import app

    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    result.returncode = result.exit_code
    return result


def test_settings_are_validated_at_start(sqlite_spec: StoreSpec, tmp_path: Path) -> None:
    db = ["--db", sqlite_spec.url]
    cases = [
        ({"bogus_key": 1}, "bogus_key"),
        ({"workers": "two"}, "workers"),
        ({"in_data_dir": str(tmp_path / "missing")}, "in_data_dir"),
        ({"types": ["no_such_type"]}, "types"),
        ({"handlers": {"x": "tests.service.plugins:nothing_here"}}, "handlers.x"),
    ]
    for overrides, key in cases:
        settings = write_settings(tmp_path)
        data = json.loads(settings.read_text())
        handlers = overrides.pop("handlers", None)
        data.update(overrides)
        if handlers:
            data["handlers"].update(handlers)
        settings.write_text(json.dumps(data))
        out = run_cli(*db, "service", "run", str(settings), "--until-idle")
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2, (overrides, out.stderr)
        assert len(lines) == 1 and lines[0].startswith("Error: ") and key in lines[0], lines


def test_pid_file_status_and_stop(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    settings = write_settings(tmp_path)
    pid_file = tmp_path / "run" / "sc.pid"
    pid_file.parent.mkdir()
    pid_file.write_text("999999\n")  # stale: replaced
    first = services(sqlite_spec, settings, "--pid-file", str(pid_file))
    wait_for(lambda: pid_file.read_text().strip() == str(first.pid), what="PID file")
    second = run_cli("--db", sqlite_spec.url, "service", "run", str(settings), "--pid-file", str(pid_file))
    assert second.returncode == 5 and f"pid {first.pid}" in second.stderr
    store = sqlite_spec.open()
    wait_for(lambda: store.list_workers(), what="worker document")
    status = run_cli("--db", sqlite_spec.url, "service", "status", "--json")
    rows = json.loads(status.stdout)["items"]
    assert [(r["pid"], r["state"]) for r in rows] == [(first.pid, "running")]
    stop = run_cli("--db", sqlite_spec.url, "service", "stop", "--pid-file", str(pid_file), "--wait", "20")
    assert stop.returncode == 0, stop.stderr
    assert first.wait() == 0 and not pid_file.exists()
    assert "replaced stale PID file" in first.log()
    rows = json.loads(run_cli("--db", sqlite_spec.url, "service", "status", "--json").stdout)["items"]
    assert rows[0]["state"] == "stopped"


def test_max_concurrent_by_type_caps_a_type(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    settings = write_settings(tmp_path, workers=2, max_concurrent_by_type={"slow_ok": 1})
    queue = make_queue(sqlite_spec.open())
    capped = [new_job(queue, "slow_ok", parameters={"seconds": 0.2}) for _ in range(3)]
    other = new_job(queue, "ok")
    service = services(sqlite_spec, settings, "--until-idle")
    assert service.wait() == 0, service.log()
    spans = sorted((j["started_at"], j["completed_at"]) for j in map(queue.get_job, capped))
    # never two at once
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:], strict=False))
    assert queue.get_job(other)["status"] == "completed"


def test_stop_without_pid_file_finds_the_only_local_service(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    settings = write_settings(tmp_path)
    sqlite_spec.open().ping()  # the store exists (a command that only reads it never creates it)
    nothing = run_cli("--db", sqlite_spec.url, "--settings", str(settings), "service", "stop")
    assert nothing.returncode == 4 and "no live service on" in nothing.stderr
    first = services(sqlite_spec, settings, "--worker-id", "svc-a")
    store = sqlite_spec.open()
    wait_for(lambda: store.list_workers(), what="worker document")
    unknown = run_cli("--db", sqlite_spec.url, "--settings", str(settings), "service", "stop", "--worker-id", "svc-zzz")
    assert unknown.returncode == 4 and "no live service svc-zzz" in unknown.stderr
    stop = run_cli("--db", sqlite_spec.url, "--settings", str(settings), "service", "stop", "--wait", "20")
    assert stop.returncode == 0, stop.stderr
    assert first.wait() == 0
