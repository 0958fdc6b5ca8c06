"""`sc job create --at/--in`, `sc job run-now`, `sc job retry --in`, `sc job list --status scheduled`
and `sc job show` of a scheduled job: effects checked through the store, refusals by exit code."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest

from sccli.clock import utcnow
from sccli.errors import EXIT_BAD_INPUT, EXIT_CONFLICT
from sccli.store import open_store
from tests.cli.test_job import dataset


def create(sc: Any, ds: str, *extra: str) -> Any:
    return sc("job", "create", "--dataset", ds, "--type", "data_validation", *extra)


def test_create_in_two_hours_is_scheduled_and_shown_with_its_start(sc: Any, db_url: str) -> None:
    ds = dataset(sc)
    made = create(sc, ds, "--in", "2h")
    assert made.exit_code == 0, made.output
    job_id = made.stdout.strip()
    job = open_store(db_url).get_job(job_id)
    assert job is not None and job["status"] == "scheduled"
    assert timedelta(minutes=119) < job["run_after"] - utcnow() <= timedelta(hours=2)
    assert "scheduled: starts at" in made.stderr
    shown = sc("job", "show", job_id)
    assert (
        "scheduled: starts at" in shown.stdout
        and ("in 1 h 59 min" in shown.stdout or "in 2 h" in shown.stdout)
        and f"sc job run-now {job_id}" in shown.stdout
    )
    listed = sc("job", "list", "--status", "scheduled", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(listed.stdout)))
    assert [r["JOB ID"] for r in rows] == [job_id] and rows[0]["STATUS"] == "scheduled" and rows[0]["STARTS"]
    assert json.loads(sc("job", "list", "--status", "pending", "--json").stdout)["items"] == []


@pytest.mark.parametrize("at", ["2026-12-08T03:00", "2026-12-08T03:00:00Z", "2026-12-08T04:00+01:00"])
def test_create_at_an_iso_time_with_or_without_zone(sc: Any, db_url: str, at: str) -> None:
    made = create(sc, dataset(sc), "--at", at, "--json")
    assert made.exit_code == 0, made.output
    job = json.loads(made.stdout)
    stored = open_store(db_url).get_job(job["job_id"])
    assert stored is not None and stored["run_after"].isoformat().startswith("2026-12-08T03:00:00")
    assert stored["status"] == ("scheduled" if stored["run_after"] > utcnow() else "pending")


def test_create_at_a_past_time_runs_at_once(sc: Any, db_url: str) -> None:
    made = create(sc, dataset(sc), "--at", "2020-01-01T00:00")
    assert made.exit_code == 0, made.output
    job = open_store(db_url).get_job(made.stdout.strip())
    assert job is not None and job["status"] == "pending" and "scheduled" not in made.stderr


@pytest.mark.parametrize("args", [("--at", "tomorrow"), ("--at", "2026-13-45T99:00"), ("--in", "soon"), ("--in", "-2h"),
                                  ("--at", "2026-12-08T03:00", "--in", "2h"), ("--in", "900d")])
def test_malformed_times_exit_2_with_one_line_and_write_nothing(sc: Any, db_url: str, args: tuple[str, ...]) -> None:
    ds = dataset(sc)
    made = create(sc, ds, *args)
    assert made.exit_code == EXIT_BAD_INPUT, made.output
    assert made.stderr.startswith("Error: ") and made.stderr.count("\n") == 1 and "Traceback" not in made.output
    assert json.loads(sc("job", "list", "--json").stdout)["items"] == []


def test_run_now_promotes_a_scheduled_job_and_refuses_others(sc: Any, db_url: str) -> None:
    job_id = create(sc, dataset(sc), "--in", "1d").stdout.strip()
    done = sc("job", "run-now", job_id)
    assert done.exit_code == 0 and "pending" in done.stdout
    assert open_store(db_url).get_job(job_id)["status"] == "pending"  # type: ignore[index]
    again = sc("job", "run-now", job_id)
    assert (
        again.exit_code == EXIT_CONFLICT
        and again.stderr.startswith("Error: ")
        and "only a scheduled job" in again.stderr
    )
    assert sc("job", "run-now", "0c5d02c7-c402-4a8c-87d8-6026e3311053").exit_code != 0


def test_retry_in_an_hour_schedules_the_job(sc: Any, db_url: str) -> None:
    job_id = create(sc, dataset(sc)).stdout.strip()
    assert sc("job", "cancel", job_id).exit_code == 0
    retried = sc("job", "retry", job_id, "--in", "1h")
    assert retried.exit_code == 0, retried.output
    assert "scheduled: starts at" in retried.stdout and ("in 59 min" in retried.stdout or "in 1 h" in retried.stdout)
    job = open_store(db_url).get_job(job_id)
    assert job is not None and job["status"] == "scheduled" and job["attempts"] == 0
    assert timedelta(minutes=59) < job["run_after"] - utcnow() <= timedelta(hours=1)
    bad = sc("job", "retry", job_id, "--in", "whenever")
    assert bad.exit_code == EXIT_BAD_INPUT and bad.stderr.startswith("Error: ")


def test_cancel_and_purge_reach_scheduled_jobs(sc: Any, db_url: str) -> None:
    first = create(sc, dataset(sc), "--in", "3h").stdout.strip()
    second = create(sc, dataset(sc), "--in", "3h").stdout.strip()
    cancelled = sc("job", "cancel", "--status", "scheduled", "--yes", "--json")
    assert cancelled.exit_code == 0, cancelled.output
    assert sorted(json.loads(cancelled.stdout)["done"]) == sorted([first, second])
    third = create(sc, dataset(sc), "--in", "3h").stdout.strip()
    purged = sc("job", "purge", "--type", "data_validation", "--yes", "--json")
    assert json.loads(purged.stdout)["purged"] == [third]
