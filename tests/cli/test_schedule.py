"""``sc schedule``: every command end to end on a temp store; malformed input is one line, exit 2."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sccli.store import open_store
from tests.conftest import add_dataset


def test_add_list_show_pause_resume_run_now_remove(sc: Any, db_url: str) -> None:
    r = sc(
        "schedule",
        "add",
        "nightly",
        "--type",
        "data_validation",
        "--cron",
        "0 3 * * *",
        "--timezone",
        "Europe/Rome",
        "-p",
        "rebuild=true",
        "--priority",
        "1",
        "--json",
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert (
        doc["cron"] == "0 3 * * *" and doc["timezone"] == "Europe/Rome" and doc["priority"] == 1 and not doc["paused"]
    )
    assert doc["parameters"] == {"rebuild": True} and doc["catch_up"] == "latest"
    listed = json.loads(sc("schedule", "list", "--json").output)
    assert [s["name"] for s in listed] == ["nightly"] and listed[0]["next_run_at"].endswith(
        ("T01:00:00Z", "T02:00:00Z")
    )
    fired = json.loads(sc("schedule", "run-now", "nightly", "--json").output)
    assert fired["outcome"] == "queued"
    job = json.loads(sc("job", "show", fired["job_id"], "--json").output)
    assert job["job_type"] == "data_validation" and job["priority"] == 1
    shown = json.loads(sc("schedule", "show", "nightly", "--json").output)
    assert shown["last_job_id"] == fired["job_id"] and shown["last_job_status"] == "pending"
    assert [f["outcome"] for f in shown["fires"]] == ["queued"]
    assert json.loads(sc("schedule", "pause", "nightly", "--json").output)["paused"] is True
    assert json.loads(sc("schedule", "resume", "nightly", "--json").output)["paused"] is False
    assert json.loads(sc("schedule", "remove", "nightly", "--json").output)["removed"] == "nightly"
    assert json.loads(sc("schedule", "list", "--json").output) == []
    assert open_store(db_url, "x").get_job(fired["job_id"]) is not None  # its jobs stay


@pytest.mark.parametrize(
    "args",
    [
        ["--cron", "0 25 * * *"],
        ["--cron", "* * * *"],
        ["--cron", "0 0 31 2 *"],
        ["--cron", "@every 2s"],
        ["--cron", "0 3 * * *", "--timezone", "Mars/Olympus"],
        ["--cron", "0 3 * * *", "--timezone", "../../etc/passwd"],
        ["--cron", "0 3 * * *", "--catch-up", "all"],
        ["--cron", "0 3 * * *", "--priority", "9"],
        ["--cron", "0 3 * * *", "--dataset", "not-a-uuid"],
        ["--cron", "0 3 * * *", "-p", "novalue"],
    ],
)
def test_malformed_input_is_one_line_and_exit_2_and_writes_nothing(sc: Any, db_url: str, args: list[str]) -> None:
    r = sc("schedule", "add", "x", "--type", "data_validation", *args)
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in r.output
    assert open_store(db_url, "x").schedules.all() == []


def test_bad_names_types_and_missing_things(sc: Any) -> None:
    assert sc("schedule", "add", "bad name", "--type", "data_validation", "--cron", "@daily").exit_code == 2
    assert sc("schedule", "add", "x", "--type", "nope", "--cron", "@daily").exit_code == 2
    missing = sc(
        "schedule",
        "add",
        "x",
        "--type",
        "data_validation",
        "--cron",
        "@daily",
        "--dataset",
        "550e8400-e29b-41d4-a716-446655440000",
    )
    assert missing.exit_code == 4
    for command in ("show", "pause", "resume", "remove", "run-now"):
        assert sc("schedule", command, "ghost").exit_code == 4
    assert sc("schedule", "add", "x", "--type", "data_validation", "--cron", "@daily").exit_code == 0
    dup = sc("schedule", "add", "x", "--type", "data_validation", "--cron", "@hourly")
    assert dup.exit_code == 5 and dup.output.startswith("Error: ")


def test_run_now_on_a_deleted_dataset_reports_failed_with_the_reason(sc: Any, db_url: str) -> None:
    store = open_store(db_url, "x")
    ds = add_dataset(store)
    assert sc("schedule", "add", "sync", "--type", "google_sync", "--dataset", ds, "--cron", "@daily").exit_code == 0
    _drop_dataset(store, ds)
    r = sc("schedule", "run-now", "sync", "--json")
    assert r.exit_code == 0
    assert json.loads(r.output)["outcome"] == "failed" and "no longer exists" in json.loads(r.output)["reason"]


def _drop_dataset(store: Any, uuid: str) -> None:
    with store._write() as conn:  # no contract call deletes a portal dataset: the portal does
        conn.execute(f"DELETE FROM {store.names['datasets']} WHERE uuid = ?", (uuid,))
