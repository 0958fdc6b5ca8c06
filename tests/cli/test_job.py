"""`sc job` and `sc dataset`: effects checked through the core API, refusals by exit code."""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

import pytest

from sccli.errors import EXIT_BAD_INPUT, EXIT_CONFLICT, EXIT_NOT_FOUND, EXIT_STORE_UNREACHABLE
from sccli.queue import JobQueue
from sccli.store import open_store


def dataset(sc: Any) -> str:
    result = sc("dataset", "add", "--name", "d1", "--sensor", "TIFF", "--user", "a@b.c")
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_create_show_list_cancel_retry_round_trip(sc: Any, db_url: str) -> None:
    ds = dataset(sc)
    created = sc(
        "job", "create", "--dataset", ds, "--type", "dataset_conversion", "--param", "sensor_type=TIFF", "--param",
        'conversion_params={"Xs_dataset": "x"}', "--priority", "high", "--max-attempts", "4", "--json",
    )
    assert created.exit_code == 0, created.output
    job = json.loads(created.stdout)
    assert job["parameters"] == {"sensor_type": "TIFF", "conversion_params": {"Xs_dataset": "x"}}
    assert (job["priority"], job["max_attempts"]) == (1, 4)
    assert job["created_by"].startswith("cli:")
    stored = JobQueue(open_store(db_url)).get_job(job["job_id"])
    assert stored is not None and stored["status"] == "pending"

    shown = sc("job", "show", job["job_id"])
    assert shown.exit_code == 0
    assert "no live service is running" in shown.stdout and "conversion queued" in shown.stdout

    listed = sc("job", "list", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(listed.stdout)))
    assert [r["JOB ID"] for r in rows] == [job["job_id"]] and rows[0]["STATUS"] == "pending"

    assert json.loads(sc("job", "list", "--status", "completed", "--json").stdout) == {
        "items": [], "total": 0, "limit": 50, "offset": 0,
    }
    assert "| dataset_conversion |" in sc("job", "list", "--format", "markdown").stdout

    cancelled = sc("job", "cancel", job["job_id"], "--reason", "operator said so")
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.stdout
    assert open_store(db_url).get_dataset(ds)["error_message"] == "operator said so"  # type: ignore[index]
    again = sc("job", "cancel", job["job_id"])
    assert again.exit_code == EXIT_CONFLICT and again.stderr.startswith("Error: ")

    retried = sc("job", "retry", job["job_id"], "--json")
    assert retried.exit_code == 0 and json.loads(retried.stdout)["status"] == "pending"

    shown_ds = json.loads(sc("dataset", "show", ds, "--json").stdout)
    assert shown_ds["status"] == "conversion queued" and [j["job_id"] for j in shown_ds["jobs"]] == [job["job_id"]]


def test_params_json_from_inline_and_file(sc: Any, tmp_path: Any) -> None:
    ds = dataset(sc)
    f = tmp_path / "p.json"
    f.write_text('{"manifest_path": "/in/m.json", "rebuild": false}')
    r = sc("job", "create", "-d", ds, "-t", "data_validation", "--params-json", f"@{f}", "-p", "rebuild=true", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["parameters"] == {"manifest_path": "/in/m.json", "rebuild": True}
    r = sc("job", "create", "-d", ds, "-t", "data_validation", "-p", "bogus=1", "--allow-duplicate")
    assert r.exit_code == 2 and "unknown parameter 'bogus'" in r.stderr
    r = sc("job", "create", "-d", ds, "-t", "data_compression", "--params-json", '{"level": 3}', "--json")
    assert json.loads(r.stdout)["parameters"] == {"level": 3}


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--type", "nope"], EXIT_BAD_INPUT, "unknown job type 'nope'"),
    (["--priority", "9"], EXIT_BAD_INPUT, "priority"),
    (["--priority", "urgent"], EXIT_BAD_INPUT, "priority"),
    (["--params-json", "[1, 2]"], EXIT_BAD_INPUT, "JSON object"),
    (["--params-json", "{bad"], EXIT_BAD_INPUT, "not valid JSON"),
    (["--params-json", "@/no/such/file.json"], EXIT_BAD_INPUT, "cannot read"),
    (["--param", "novalue"], EXIT_BAD_INPUT, "key=value"),
    (["--max-attempts", "0"], EXIT_BAD_INPUT, "max_attempts"),
    (["--bogus-option"], EXIT_BAD_INPUT, "No such option"),
])
def test_refusals_are_one_line_and_write_nothing(
    sc: Any, db_url: str, args: list[str], code: int, message: str
) -> None:
    ds = dataset(sc)
    base = ["job", "create", "--dataset", ds]
    if "--type" not in args:
        base += ["--type", "dataset_conversion"]
    result = sc(*base, *args)
    assert result.exit_code == code
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ") and message in result.stderr
    assert "Traceback" not in result.output
    assert JobQueue(open_store(db_url)).list_jobs() == []


def test_malformed_uuid_unknown_dataset_and_duplicate(sc: Any) -> None:
    r = sc("job", "create", "--dataset", "1234", "--type", "dataset_conversion")
    assert r.exit_code == EXIT_BAD_INPUT and "malformed dataset UUID" in r.stderr
    missing = "550e8400-e29b-41d4-a716-446655440000"
    r = sc("job", "create", "--dataset", missing, "--type", "dataset_conversion")
    assert r.exit_code == EXIT_NOT_FOUND and "--allow-missing-dataset" in r.stderr
    r = sc("job", "create", "--dataset", missing, "--type", "dataset_conversion", "--allow-missing-dataset")
    assert r.exit_code == 0
    r = sc("job", "create", "--dataset", missing, "--type", "dataset_conversion", "--allow-missing-dataset")
    assert r.exit_code == EXIT_CONFLICT and "active job already exists" in r.stderr


def test_unknown_job_and_dataset_are_not_found(sc: Any) -> None:
    assert sc("dataset", "add").exit_code == 0  # the store exists: read commands do not create it
    for args in (
        ["job", "show", "nope"], ["job", "retry", "nope"], ["job", "cancel", "nope"],
        ["dataset", "show", "550e8400-e29b-41d4-a716-446655440000"],
    ):
        r = sc(*args)
        assert r.exit_code == EXIT_NOT_FOUND, args
        assert r.stderr.startswith("Error: ") and "not found" in r.stderr


def test_bad_status_filter_is_refused(sc: Any) -> None:
    r = sc("job", "list", "--status", "done")
    assert r.exit_code == EXIT_BAD_INPUT and "'done' is not one of 'pending', 'running'" in r.stderr


def test_unreachable_mongo_fails_fast_with_exit_3(sc: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SC_DB_TIMEOUT_MS", "300")
    start = time.monotonic()
    r = sc("job", "list", db="mongodb://user:secret@127.0.0.1:9/")
    elapsed = time.monotonic() - start
    assert r.exit_code == EXIT_STORE_UNREACHABLE
    assert r.stderr.startswith("Error: MongoDB unreachable") and "secret" not in r.stderr
    assert elapsed < 10  # bounded by the configured timeout, not pymongo's 30 s default


def test_version_and_unsupported_url(sc: Any) -> None:
    assert sc("--version").stdout.startswith("sc ")
    r = sc("job", "list", db="redis://localhost")
    assert r.exit_code == EXIT_BAD_INPUT and "unsupported store URL" in r.stderr


def test_watch_takes_an_optional_number_of_seconds() -> None:
    from sccli.cli.app import watch_seconds

    assert watch_seconds(["monitor", "overview", "--watch", "5"]) == [
        "monitor", "overview", "--watch", "--interval", "5",
    ]
    assert watch_seconds(["monitor", "overview", "--watch=0.5"]) == [
        "monitor", "overview", "--watch", "--interval", "0.5",
    ]
    assert watch_seconds(["monitor", "overview", "--watch", "--json"]) == ["monitor", "overview", "--watch", "--json"]
    assert watch_seconds(["monitor", "overview", "-w", "x"]) == ["monitor", "overview", "-w", "x"]
