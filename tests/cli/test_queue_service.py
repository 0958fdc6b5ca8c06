"""`sc queue pause/resume/status` and `sc service prune`, effects checked in the store."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from sccli.clock import utcnow
from sccli.errors import EXIT_BAD_INPUT
from sccli.pause import paused_types
from sccli.queue import JobQueue
from sccli.store import open_store
from sccli.store.base import Store
from tests.conftest import add_dataset
from tests.monitor.history import worker


@pytest.fixture
def store(db_url: str) -> Store:
    s = open_store(db_url)
    s.ensure_schema()
    return s


def test_pause_resume_status(sc: Any, store: Store) -> None:
    assert sc("queue", "status").stderr.startswith("nothing is paused")
    out = sc("queue", "pause", "google_sync", "file_upload", "--reason", "Drive quota")
    assert out.exit_code == 0 and "paused google_sync, file_upload" in out.stdout
    assert set(paused_types(store)) == {"google_sync", "file_upload"}
    assert paused_types(store)["google_sync"]["reason"] == "Drive quota"
    assert paused_types(store)["google_sync"]["actor"].startswith("cli:")
    queue = JobQueue(store)
    queue.create_job(add_dataset(store), "google_sync")
    rows = json.loads(sc("queue", "status", "--json").stdout)["paused"]
    assert [(r["job_type"], r["ready"]) for r in rows] == [("file_upload", 0), ("google_sync", 1)]
    assert queue.claim_next("w1") is None  # nothing paused is claimed
    resumed = json.loads(sc("queue", "resume", "google_sync", "--json").stdout)
    assert resumed["resumed"] == ["google_sync"] and list(resumed["paused"]) == ["file_upload"]
    assert set(paused_types(store)) == {"file_upload"}
    assert queue.claim_next("w1") is not None
    assert sc("queue", "resume").stdout.startswith("resumed file_upload") and paused_types(store) == {}
    assert "nothing to resume" in sc("queue", "resume").stdout


def test_pause_everything_and_refusals(sc: Any, store: Store) -> None:
    assert sc("queue", "pause", "no_such_type").exit_code == EXIT_BAD_INPUT and paused_types(store) == {}
    everything = sc("queue", "pause")
    assert "every job type" in everything.stdout and set(paused_types(store)) == {"*"}
    partial = sc("queue", "resume", "google_sync")
    assert "every job type is still paused" in partial.stderr and set(paused_types(store)) == {"*"}
    assert "### Paused (sc queue resume)" in sc("monitor", "overview", "--format", "markdown").stdout


def test_service_prune_removes_only_long_gone_services(sc: Any, store: Store) -> None:
    now = utcnow()
    worker(store, "live", now)
    worker(store, "dead-long-ago", now - timedelta(days=10))
    worker(store, "stopped-long-ago", now - timedelta(days=9), status="stopped")
    worker(store, "dead-recently", now - timedelta(hours=2))
    dry = sc("service", "prune", "--dry-run", "--json")
    assert sorted(json.loads(dry.stdout)["removed"]) == ["dead-long-ago", "stopped-long-ago"]
    assert len(store.list_workers()) == 4
    done = sc("service", "prune")
    assert done.exit_code == 0 and "removed 2 service entries" in done.stderr
    assert sorted(w["worker_id"] for w in store.list_workers()) == ["dead-recently", "live"]
    assert json.loads(sc("service", "prune", "--older-than", "1h", "--json").stdout)["removed"] == ["dead-recently"]
    assert sc("service", "prune", "--older-than", "soon").exit_code == EXIT_BAD_INPUT


def test_queue_set_limits_status_and_refusals(sc: Any, store: Store) -> None:
    from sccli.controls import read_limits

    out = sc("queue", "set", "google_sync", "--max-running", "4", "--rate", "60/h", "--timeout", "30m",
             "--max-attempts", "5", "--priority", "1", "--reason", "Drive quota")
    assert out.exit_code == 0 and "max_running=4" in out.stdout and "rate=60/h" in out.stdout
    limits = read_limits(store)["google_sync"]
    got = (limits.max_running, str(limits.rate), limits.timeout_minutes, limits.max_attempts, limits.priority)
    assert got == (4, "60/h", 30, 5, 1)
    shown = json.loads(sc("queue", "status", "--json").stdout)["limits"]
    assert shown[0]["job_type"] == "google_sync" and shown[0]["rate"] == "60/h" and shown[0]["held"] is None
    assert "google_sync              4  60/h" in sc("queue", "status", "--format", "plain").stdout
    assert sc("queue", "set", "google_sync", "--unset", "rate").exit_code == 0
    assert read_limits(store)["google_sync"].rate is None
    for bad in (["--rate", "lots"], ["--timeout", "30s"], ["--unset", "colour"], [], ["--priority", "7"]):
        res = sc("queue", "set", "google_sync", *bad)
        assert res.exit_code == EXIT_BAD_INPUT and res.stderr.startswith("Error: "), (bad, res.stderr)
    assert sc("queue", "set", "no_such_type", "--max-running", "1").exit_code == EXIT_BAD_INPUT
    assert sc("queue", "set", "google_sync", "--max-running", "0").exit_code == EXIT_BAD_INPUT
    assert read_limits(store)["google_sync"].max_running == 4
    assert "no limits" in sc("queue", "set", "google_sync", "--clear").stdout and read_limits(store) == {}


def test_limits_show_in_job_types_and_the_overview(sc: Any, store: Store) -> None:
    assert sc("queue", "set", "google_sync", "--max-running", "4", "--rate", "60/h", "--timeout", "30m").exit_code == 0
    types = {e["job_type"]: e for e in json.loads(sc("job", "types", "--json").stdout)}
    assert types["google_sync"]["timeout_minutes"] == 30 and types["google_sync"]["limits"]["max_running"] == 4
    assert types["file_upload"]["limits"] is None and types["file_upload"]["timeout_minutes"] == 30
    shown = sc("job", "types", "google_sync", "--format", "plain").stdout
    assert "sc queue set: max_running 4, rate 60/h, timeout_minutes 30" in shown
    overview = json.loads(sc("monitor", "overview", "--json").stdout)
    assert overview["limits"][0]["job_type"] == "google_sync" and overview["limits"][0]["rate"] == "60/h"
    assert "### Limits (sc queue set)" in sc("monitor", "overview", "--format", "markdown").stdout
