"""Operator commands against real services: pause/resume with two services, logs --follow, wait."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

from typer.testing import CliRunner

from sccli.cli.app import app
from tests.conftest import StoreSpec
from tests.service.conftest import Service, make_queue, new_job, wait_for, write_settings

CHATTY = {"chatty": "tests.service.toolkit_plugins:chatty"}


def sc(spec: StoreSpec, *args: str, settings: Path | None = None) -> Any:
    prefix = ["--db", spec.url, "--db-name", spec.db_name, *(["--settings", str(settings)] if settings else [])]
    return CliRunner().invoke(app, [*prefix, *args], env={"NO_COLOR": "1", "COLUMNS": "200"}, catch_exceptions=False)


def test_pause_holds_a_type_on_both_services_and_resume_restarts_both(
    sqlite_spec: StoreSpec, tmp_path: Path, services: Callable[..., Service]
) -> None:
    store = sqlite_spec.open()
    store.ensure_schema()
    queue = make_queue(store)
    settings = write_settings(tmp_path, workers=1)
    paused = sc(sqlite_spec, "queue", "pause", "slow_ok", "--reason", "maintenance window", settings=settings)
    assert paused.exit_code == 0, paused.output
    held = [new_job(queue, "slow_ok", parameters={"seconds": 0.3}) for _ in range(4)]
    for name in ("svc-a", "svc-b"):
        services(sqlite_spec, settings, "--worker-id", name)
    # Both services claim work that is not paused (each has one slot, each sentinel takes 0.3 s)...
    sentinels = [new_job(queue, "progress", parameters={"seconds": 0.3}) for _ in range(2)]
    done = wait_for(
        lambda: all(store.get_job(j)["status"] == "completed" for j in sentinels) and sentinels, what="sentinels"
    )
    assert {store.get_job(j)["worker_id"] for j in done} == {"svc-a", "svc-b"}
    # ...and neither claims the paused type.
    assert [store.get_job(j)["status"] for j in held] == ["pending"] * 4
    status = sc(sqlite_spec, "queue", "status", "--format", "csv")
    assert "slow_ok,maintenance window" in status.stdout and status.stdout.strip().endswith(",4")
    service_rows = sc(sqlite_spec, "service", "status", "--json").stdout
    assert service_rows.count('"slow_ok"') == 2  # each live service lists the paused type it serves
    overview = sc(sqlite_spec, "monitor", "overview", "--json").stdout
    assert '"maintenance window"' in overview
    shown = sc(sqlite_spec, "job", "show", held[0]).stdout
    assert "job type slow_ok is paused" in shown and "maintenance window" in shown

    resumed = sc(sqlite_spec, "queue", "resume", "slow_ok", settings=settings)
    assert resumed.exit_code == 0 and "resumed slow_ok" in resumed.stdout
    wait_for(lambda: all(store.get_job(j)["status"] == "completed" for j in held), what="held jobs after resume")
    assert {store.get_job(j)["worker_id"] for j in held} == {"svc-a", "svc-b"}
    assert json.loads(sc(sqlite_spec, "queue", "status", "--json").stdout) == {"paused": [], "limits": []}


def test_logs_follow_a_running_job_to_its_end(
    sqlite_spec: StoreSpec, tmp_path: Path, services: Callable[..., Service]
) -> None:
    store = sqlite_spec.open()
    store.ensure_schema()
    queue = make_queue(store)
    queue.extra_types = frozenset({*queue.extra_types, "chatty"})
    settings = write_settings(tmp_path, handlers=CHATTY)
    job_id = new_job(queue, "chatty", parameters={"lines": 15, "interval": 0.05})
    services(sqlite_spec, settings)
    wait_for(lambda: store.get_job(job_id)["status"] == "running", what="the job to start")
    followed = sc(sqlite_spec, "job", "logs", job_id, "--follow", "--tail", "0", settings=settings)
    assert followed.exit_code == 0, followed.output
    assert store.get_job(job_id)["status"] == "completed"
    numbers = [int(n) for n in re.findall(r"chatty (\d+)", followed.stdout)]
    assert numbers and numbers == sorted(numbers) and numbers[-1] == 14  # new lines, in order, to the last one
    assert f"job {job_id} completed" in followed.stderr
    whole = sc(sqlite_spec, "job", "logs", job_id, settings=settings)
    assert [int(n) for n in re.findall(r"chatty (\d+)", whole.stdout)] == list(range(15))


def test_wait_returns_when_the_running_job_ends(
    sqlite_spec: StoreSpec, tmp_path: Path, services: Callable[..., Service]
) -> None:
    store = sqlite_spec.open()
    store.ensure_schema()
    queue = make_queue(store)
    good = new_job(queue, "slow_ok", parameters={"seconds": 0.3})
    bad = new_job(queue, "fail", max_attempts=1)
    services(sqlite_spec, write_settings(tmp_path))
    assert sc(sqlite_spec, "job", "wait", good, "--timeout", "30").exit_code == 0
    failed = sc(sqlite_spec, "job", "wait", bad, "--timeout", "30")
    assert failed.exit_code == 1 and "failed" in failed.stdout
