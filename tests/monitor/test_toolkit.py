"""Operator-facing monitor behaviour: quiet cron cleanup, honest formats and charts, Nagios truth."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sccli.cli.app import app
from sccli.clock import utcnow
from sccli.monitor import JobMonitor
from sccli.settings import Settings
from sccli.store import open_store
from sccli.store.base import Store
from tests.monitor.history import ago, insert, job, worker

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sc.db'}"


@pytest.fixture
def store(db: str) -> Store:
    s = open_store(db)
    s.ensure_schema()
    return s


def sc(db: str, *args: str) -> object:
    return CliRunner().invoke(app, ["--db", db, *args], env={"NO_COLOR": "1", "COLUMNS": "200"})


def test_cleanup_from_cron_prints_nothing(db: str, store: Store) -> None:
    now = utcnow()
    old = insert(store, job(completed_at=ago(days=45, now=now)), job(completed_at=ago(days=40, now=now)))
    cmd = [sys.executable, "-m", "sccli", "--db", db, "monitor", "cleanup", "--days", "30"]
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert all(store.get_job(j) is None for j in old)
    nothing = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert (nothing.returncode, nothing.stdout, nothing.stderr) == (0, "", "")


def test_cleanup_failure_goes_to_stderr(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "sccli", "--db", f"sqlite:///{tmp_path}", "monitor", "cleanup", "--days", "30"]
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 3 and done.stdout == "" and done.stderr.startswith("Error: ")


def test_cleanup_speaks_with_json_or_dry_run(db: str, store: Store) -> None:
    insert(store, job(completed_at=ago(days=45, now=utcnow())))
    dry = sc(db, "monitor", "cleanup", "--dry-run")
    assert dry.stdout.startswith("would delete 1 completed")
    assert json.loads(sc(db, "monitor", "cleanup", "--json").stdout)["completed_jobs_deleted"] == 1


def test_report_csv_is_one_table_and_the_chart_has_the_days_asked(db: str, store: Store) -> None:
    now = utcnow()
    insert(store, *[job(completed_at=ago(days=d, now=now)) for d in range(10)])
    out = sc(db, "monitor", "report", "--days", "7", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out.stdout)))
    assert rows[0][:3] == ["TYPE", "JOBS", "DONE"] and len(rows) == 2 and all(len(r) == len(rows[0]) for r in rows)
    assert "Per day, the last 7 days" in out.stderr
    daily = json.loads(sc(db, "monitor", "report", "--days", "7", "--json").stdout)["daily"]
    assert len(daily) == 7 and daily[-1]["day"] == now.date().isoformat()
    assert sum(d["completed"] for d in daily) == 7  # today and the 6 days before, whole days
    assert len(json.loads(sc(db, "monitor", "report", "--days", "1", "--json").stdout)["daily"]) == 1


def test_failed_column_says_what_it_counts(db: str, store: Store) -> None:
    insert(
        store, job(status="failed", completed_at=ago(minutes=5, now=utcnow()), error="bad", attempts=1, max_attempts=2)
    )
    assert "1 of 1" in sc(db, "monitor", "failed", "--format", "plain").stdout
    out = sc(db, "monitor", "failed", "--format", "csv")  # CSV: numbers as numbers, the total is COUNT
    row = next(csv.DictReader(io.StringIO(out.stdout)))
    assert (row["HAD TRIES LEFT"], row["COUNT"]) == ("1", "1")


def _ready_job(store: Store, job_type: str, waited_seconds: float) -> None:
    created = ago(seconds=waited_seconds, now=utcnow())
    insert(store, job(job_type, "pending", completed_at=None, duration=None, created_at=created, worker_id=None))


def test_ready_jobs_without_a_service_warn_then_go_critical(store: Store) -> None:
    settings = Settings(check_no_service_warning_seconds=60, check_no_service_critical_seconds=600)
    monitor = JobMonitor(store, settings=settings)
    _ready_job(store, "google_sync", 30)
    assert monitor.check()[0] == 0  # not long enough yet: an issue, still OK
    assert "1 google_sync job(s) ready but no live service serves google_sync" in monitor.check()[1]
    _ready_job(store, "backup_creation", 120)
    code, line = monitor.check()
    assert code == 1 and line.startswith("SC QUEUE WARNING")
    _ready_job(store, "rsync_transfer", 1200)
    assert monitor.check()[0] == 2


def test_a_live_service_of_another_type_does_not_count(store: Store) -> None:
    monitor = JobMonitor(store, settings=Settings(check_no_service_warning_seconds=60))
    _ready_job(store, "google_sync", 300)
    worker(store, "w-conv", utcnow())
    store.upsert_worker({**store.list_workers()[0], "types": ["dataset_conversion"]})
    assert monitor.check()[0] == 1
    store.upsert_worker({**store.list_workers()[0], "types": ["dataset_conversion", "google_sync"]})
    assert monitor.check()[0] == 0


def test_the_gap_starts_when_the_last_serving_service_died(store: Store) -> None:
    monitor = JobMonitor(store, settings=Settings(check_no_service_warning_seconds=60, stale_after_seconds=10))
    _ready_job(store, "google_sync", 3600)
    worker(store, "w-gone", ago(seconds=30, now=utcnow()))  # dead (no beat for 30 s) but beat 30 s ago
    assert monitor.check()[0] == 0


def test_check_usage_errors_and_unreadable_store_are_unknown(db: str, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "sccli", "--db", db, "monitor", "overview", "--check", "--bogus"]
    bad = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert bad.returncode == 3 and "Error:" in bad.stderr
    unknown = sc(f"sqlite:///{tmp_path}", "monitor", "overview", "--check")
    assert unknown.exit_code == 3 and unknown.stdout.startswith("SC QUEUE UNKNOWN")


def test_signatures_come_from_the_first_meaningful_line() -> None:
    from sccli.monitor.signatures import MAX_LENGTH, error_signature, merge_groups

    noise = "".join(f"progress {i}%\n" for i in range(5000))
    tool = f"\n=====\nrsync: change_dir \"/data/in/x\" failed: No such file or directory (2)\n{noise}"
    assert error_signature(tool) == "rsync: change_dir \"<path>\" failed: No such file or directory (<n>)"
    joined = "7z failed with exit code 2: ERROR: /data/a.zip: Can not open the file as archive | " + "x" * 5000
    assert error_signature(joined) == "7z failed with exit code <n>: ERROR: <path> Can not open the file as archive"
    traceback = (
        'Traceback (most recent call last):\n  File "/x.py", line 3, in run\n    boom()\nValueError: bad sensor 4D'
    )
    assert error_signature(traceback) == "ValueError: bad sensor <n>D"
    assert len(error_signature("word " * 2000)) <= MAX_LENGTH
    now = utcnow()
    groups = merge_groups(
        [
            {
                "job_type": "google_sync", "error": "HTTP 500", "count": 2, "first_seen": now, "last_seen": now,
                "retry_available": 0, "job_ids": ["a", "b"],
            },
            {
                "job_type": "file_upload", "error": "HTTP 503", "count": 1, "first_seen": now, "last_seen": now,
                "retry_available": 0, "job_ids": ["c"],
            },
        ]
    )
    assert [(g["job_type"], g["count"]) for g in groups] == [("google_sync", 2), ("file_upload", 1)]
    assert groups[0]["signature"] == groups[1]["signature"] and groups[0]["signature_id"] != groups[1]["signature_id"]
