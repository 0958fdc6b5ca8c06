"""``sc monitor`` through the CLI on a temporary SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sccli.cli.app import app
from sccli.clock import utcnow
from sccli.store import open_store
from sccli.store.base import JobQuery, Store
from tests.monitor.history import ago, insert, job, worker


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sc.db'}"


@pytest.fixture
def store(db: str) -> Store:
    s = open_store(db)
    s.ensure_schema()
    return s


def sc(db: str, *args: str) -> object:
    return CliRunner().invoke(app, ["--db", db, "monitor", *args], env={"NO_COLOR": "1", "COLUMNS": "200"})


def seed(store: Store) -> dict[str, str]:
    now = utcnow()
    worker(store, "w-alive", ago(2, now=now))
    done = insert(
        store, *[job(completed_at=ago(minutes=90 + i, now=now), duration=float(10 * (i + 1))) for i in range(4)]
    )
    bad = insert(
        store,
        *[
            job("google_sync", "failed", completed_at=ago(hours=3 + i, now=now), error=f"HTTP 50{i} from drive")
            for i in range(2)
        ],
    )
    silent = insert(
        store,
        job(
            status="running", worker_id="w-alive", started_at=ago(minutes=5, now=now),
            heartbeat_at=ago(minutes=4, now=now), duration=None,
        ),
    )
    old = insert(store, job(completed_at=ago(days=45, now=now)))
    return {"done": done[0], "bad": bad[0], "silent": silent[0], "old": old[0]}


def test_overview_json_and_plain(db: str, store: Store) -> None:
    seed(store)
    out = sc(db, "overview", "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["queue_stats"]["total_jobs"] == 8 and data["health_status"]["stale_jobs"] == 1
    assert data["performance_metrics"]["avg_duration_by_type"] == {"dataset_conversion": 25.0}
    text = sc(db, "overview", "--format", "plain")
    assert text.exit_code == 0 and "Health: HEALTHY" in text.stderr and "w-alive" in text.stdout


def test_check_exit_codes(db: str, store: Store, tmp_path: Path) -> None:
    ok = sc(db, "overview", "--check")
    assert ok.exit_code == 0 and ok.stdout.startswith("SC QUEUE OK - healthy")
    insert(store, job(status="failed", completed_at=ago(minutes=10, now=utcnow()), error="x"))
    critical = sc(db, "overview", "--check")
    assert critical.exit_code == 2 and critical.stdout.startswith("SC QUEUE CRITICAL")
    unknown = sc(f"sqlite:///{tmp_path}", "overview", "--check")
    assert unknown.exit_code == 3 and unknown.stdout.startswith("SC QUEUE UNKNOWN")


def test_stale_and_requeue(db: str, store: Store) -> None:
    ids = seed(store)
    listed = sc(db, "stale", "--json")
    assert [j["job_id"] for j in json.loads(listed.stdout)["items"]] == [ids["silent"]]
    table = sc(db, "stale", "--format", "plain")
    assert "service alive but the job stopped heartbeating" in table.stdout
    out = sc(db, "stale", "--requeue", "--json")
    # recovered with the settings' retry delay: scheduled until the sweeper promotes it
    assert out.exit_code == 0 and json.loads(out.stdout)["requeued"] == [
        {"job_id": ids["silent"], "stale_reason": "job_silent", "status": "scheduled"}
    ]
    assert store.get_job(ids["silent"])["status"] == "scheduled"


def test_failed_groups_and_retry(db: str, store: Store) -> None:
    ids = seed(store)
    groups = json.loads(sc(db, "failed", "--json").stdout)["items"]
    assert [(g["job_type"], g["signature"], g["count"]) for g in groups] == [("google_sync", "HTTP <n> from drive", 2)]
    dry = sc(db, "failed", "--retry", "--dry-run", "--signature", groups[0]["signature_id"], "--format", "plain")
    assert dry.exit_code == 0 and "would retry 2 jobs" in dry.stderr
    assert store.get_job(ids["bad"])["status"] == "failed"
    done = sc(db, "failed", "--retry", "--type", "google_sync", "--yes")
    assert done.exit_code == 0 and "retried 2 jobs" in done.stderr
    assert store.get_job(ids["bad"])["status"] == "pending"


def test_failed_retry_confirms_like_the_other_bulk_writers(db: str, store: Store,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 19: ``--retry`` wrote with no prompt and no ``--yes``."""
    ids = seed(store)
    refused = sc(db, "failed", "--retry")  # the runner's stdin is not a terminal
    assert refused.exit_code == 2, refused.output
    no_terminal = "Error: stdin is not a terminal: pass --yes to confirm (or --dry-run to only look)"
    assert refused.stderr.splitlines() == [no_terminal]
    assert store.get_job(ids["bad"])["status"] == "failed"
    monkeypatch.setattr("sccli.cli.confirm.interactive", lambda: True)
    declined = CliRunner().invoke(app, ["--db", db, "monitor", "failed", "--retry"], input="n\n", env={"NO_COLOR": "1"})
    assert declined.exit_code == 1 and "Retry 2 failed job(s)" in declined.stderr, declined.output
    assert store.get_job(ids["bad"])["status"] == "failed"
    accepted = CliRunner().invoke(app, ["--db", db, "monitor", "failed", "--retry"], input="y\n", env={"NO_COLOR": "1"})
    assert accepted.exit_code == 0 and "retried 2 jobs" in accepted.stderr, accepted.output
    assert store.get_job(ids["bad"])["status"] == "pending"


def test_failed_retry_reports_the_one_active_job_refusal(db: str, store: Store) -> None:
    """Two failed jobs of one dataset and type: the second retry is refused by the one-active-job
    rule, and says so (it was reported as "changed meanwhile" with exit 0)."""
    now = utcnow()
    dataset = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
    first, second = insert(store, *[job("google_sync", "failed", completed_at=ago(hours=1 + i, now=now),
                                        error="HTTP 503 from drive", dataset_uuid=dataset) for i in range(2)])
    out = sc(db, "failed", "--retry", "--yes")
    assert out.exit_code == 1, out.output
    statuses = sorted(store.get_job(i)["status"] for i in (first, second))
    assert statuses == ["failed", "pending"]
    left = first if store.get_job(first)["status"] == "failed" else second
    lines = out.stderr.splitlines()
    assert any(line.startswith(f"refused {left}: ") and "active" in line for line in lines), out.stderr
    assert "retried 1 jobs; 1 refused" in out.stderr and "changed meanwhile" not in out.stderr
    as_json = json.loads(sc(db, "failed", "--retry", "--yes", "--json").stdout)
    skipped = as_json["retry"]["skipped"]
    assert [r["job_id"] for r in skipped] == [left] and "active" in skipped[0]["reason"]


def test_report_metrics_cleanup(db: str, store: Store) -> None:
    ids = seed(store)
    report = sc(db, "report", "--days", "7", "--format", "plain")
    assert report.exit_code == 0, report.output
    assert "4 completed, 2 failed" in report.stderr and "█" in report.stderr and "Recommendations" in report.stderr
    assert "TYPE" in report.stdout and "Recommendations" not in report.stdout  # --format: only the table on stdout
    full = sc(db, "report", "--days", "7")
    assert "4 completed, 2 failed" in full.stdout and "Recommendations" in full.stdout
    assert json.loads(sc(db, "report", "--json").stdout)["summary"]["total_jobs"] == 6
    metrics = sc(db, "metrics")
    assert metrics.exit_code == 0 and 'sc_stale_jobs 1' in metrics.stdout
    assert json.loads(sc(db, "metrics", "--json").stdout)["avg_duration_by_type"] == {"dataset_conversion": 25.0}
    dry = sc(db, "cleanup", "--days", "30", "--dry-run")
    assert dry.exit_code == 0 and dry.stdout.startswith("would delete 1 completed, 0 failed and 0 cancelled jobs")
    assert store.get_job(ids["old"]) is not None
    done = json.loads(sc(db, "cleanup", "--days", "30", "--json").stdout)
    assert done["completed_jobs_deleted"] == 1 and store.get_job(ids["old"]) is None
    again = sc(db, "cleanup", "--days", "30")
    assert again.exit_code == 0 and again.stdout == "" and again.stderr == ""  # silent on success (cron)
    assert store.count_jobs(JobQuery()) == 7


def test_bad_input_exit_codes(db: str, tmp_path: Path) -> None:
    assert sc(db, "cleanup", "--days", "0").exit_code == 2
    assert sc(db, "report", "--days", "x").exit_code == 2
    unreadable = sc(f"sqlite:///{tmp_path}", "overview")
    assert unreadable.exit_code == 3 and unreadable.stderr.startswith("Error: cannot read the store")


def test_watch_redraws_until_ctrl_c(db: str, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(store)
    calls: list[float] = []

    def sleep(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr("time.sleep", sleep)
    out = sc(db, "overview", "--watch", "--interval", "0.5")
    assert out.exit_code == 0 and calls == [0.5, 0.5]
    assert "Health: HEALTHY" in out.stdout and "Active services" in out.stdout


def test_cleanup_progress_bar_on_a_terminal(db: str, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    from sccli.cli import monitor as monitor_cli
    from sccli.cli.context import Application

    insert(store, *[job(completed_at=ago(days=40, now=utcnow())) for _ in range(3)])
    monkeypatch.setattr(monitor_cli, "PROGRESS_THRESHOLD", 2)
    a = Application(db)
    a._err = Console(file=io.StringIO(), force_terminal=True, width=80)
    result = monitor_cli._cleanup_with_progress(a, monitor_cli.monitor_for(a), 30, 3)
    assert result["completed_jobs_deleted"] == 3 and "deleting old jobs" in a._err.file.getvalue()


def test_cleanup_removes_the_log_files_of_deleted_jobs(db: str, store: Store, tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"log_dir": str(log_dir)}))
    now = utcnow()
    old, recent = insert(store, job(completed_at=ago(days=45, now=now)), job(completed_at=ago(days=1, now=now)))
    for job_id in (old, recent):
        (log_dir / f"sc_job_{job_id}.log").write_text("12345")

    def cleanup(*args: str) -> object:
        return CliRunner().invoke(
            app, ["--db", db, "--settings", str(settings), "monitor", "cleanup", "--days", "30", *args],
            env={"NO_COLOR": "1", "COLUMNS": "200"},
        )

    dry = cleanup("--dry-run")
    assert dry.exit_code == 0 and f"1 log files (5 bytes in {log_dir})" in dry.stdout
    assert (log_dir / f"sc_job_{old}.log").exists()
    done = json.loads(cleanup("--json").stdout)
    assert (done["completed_jobs_deleted"], done["log_files_deleted"], done["log_bytes_deleted"]) == (1, 1, 5)
    assert not (log_dir / f"sc_job_{old}.log").exists() and (log_dir / f"sc_job_{recent}.log").exists()
    again = json.loads(cleanup("--json").stdout)
    assert again["log_files_deleted"] == 0 and again["log_dir"] == str(log_dir)
