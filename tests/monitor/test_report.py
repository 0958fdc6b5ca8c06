"""Report, metrics and per-type figures on every backend from a history known in advance."""

from __future__ import annotations

import pytest

from sccli.monitor import JobMonitor
from sccli.monitor.metrics import queue_metrics_text
from sccli.store.base import Store
from tests.monitor.history import NOW, ago, insert, job, plain_error, timeout_error

A, B, C = "dataset_conversion", "file_extraction", "data_validation"


def build_history(store: Store) -> None:
    # dataset_conversion: 20 completed of 1..20 s, 5 failed after 2 attempts (each a timeout), 2 cancelled while
    # pending.
    insert(store, *[job(A, completed_at=ago(hours=i + 1.5), duration=float(i + 1)) for i in range(20)])
    insert(store, *[job(A, "failed", completed_at=ago(days=2), attempts=2, max_attempts=2, error="timed out",
                        errors=[plain_error(1), timeout_error(2)]) for _ in range(5)])
    insert(store, *[job(A, "cancelled", completed_at=ago(days=3), duration=None, attempts=0) for _ in range(2)])
    # file_extraction: 10, 20, 60 s after 1, 2, 3 attempts; one failed after 3 attempts, two of them timeouts.
    insert(
        store,
        *[
            job(B, completed_at=ago(days=1, hours=1), duration=d, attempts=n, max_attempts=3)
            for d, n in ((10.0, 1), (20.0, 2), (60.0, 3))
        ],
    )
    insert(
        store,
        job(
            B, "failed", completed_at=ago(days=2), attempts=3, max_attempts=3,
            errors=[timeout_error(1), timeout_error(2), plain_error(3)],
        ),
    )
    # data_validation: one slow run, 1500 s of its 1800 s timeout.
    insert(store, job(C, completed_at=ago(days=1, hours=2), duration=1500.0))
    # Outside every window, or not finished.
    insert(store, job(A, completed_at=ago(days=10), duration=1000.0))
    insert(store, job("google_sync", "pending", duration=None, created_at=ago(hours=2), worker_id=None))
    insert(
        store,
        job("rsync_transfer", "pending", duration=None, created_at=ago(hours=3), worker_id=None)
        | {"run_after": ago(hours=-1)},
    )


@pytest.fixture
def monitor(store: Store) -> JobMonitor:
    build_history(store)
    return JobMonitor(store, clock=lambda: NOW)


def test_report_figures_per_type(monitor: JobMonitor) -> None:
    report = monitor.get_performance_report(days=7)
    rows = {r["_id"]: r for r in report["by_job_type"]}
    assert list(rows) == [C, A, B]
    # p50/p95 come from histograms of 1 % buckets: within 0.5 % of the exact nearest rank.
    assert rows[A] == {
        "_id": A, "count": 27, "completed": 20, "failed": 5, "cancelled": 2, "success_rate": 0.8, "avg_duration": 10.5,
        "min_duration": 1.0, "max_duration": 20.0, "p50_duration": pytest.approx(10.0, rel=0.005),
        "p95_duration": pytest.approx(19.0, rel=0.005), "retries": 5, "timeouts": 5,
    }
    assert rows[B] == {
        "_id": B, "count": 4, "completed": 3, "failed": 1, "cancelled": 0, "success_rate": 0.75, "avg_duration": 30.0,
        "min_duration": 10.0, "max_duration": 60.0, "p50_duration": pytest.approx(20.0, rel=0.005),
        "p95_duration": 60.0, "retries": 5, "timeouts": 2,
    }
    assert (rows[C]["p50_duration"], rows[C]["p95_duration"], rows[C]["count"]) == (1500.0, 1500.0, 1)


def test_report_summary_period_and_daily(monitor: JobMonitor) -> None:
    report = monitor.get_performance_report(days=7)
    assert report["summary"] == {
        "total_jobs": 32, "completed": 24, "failed": 6, "cancelled": 2, "success_rate": 0.8, "job_types": 3,
    }
    assert report["report_period"] == {"start": ago(days=7), "end": NOW, "days": 7}
    daily = {d["day"]: (d["completed"], d["failed"], d["cancelled"]) for d in report["daily"]}
    assert len(daily) == 7 and min(daily) == "2026-03-04" and daily["2026-03-04"] == (0, 0, 0)  # 7 days, today included
    assert daily["2026-03-10"] == (11, 0, 0)
    assert daily["2026-03-09"] == (13, 0, 0)
    assert daily["2026-03-08"] == (0, 6, 0)
    assert daily["2026-03-07"] == (0, 0, 2)


def test_report_recommendations(monitor: JobMonitor) -> None:
    advice = monitor.get_performance_report(days=7)["recommendations"]
    assert advice == [
        f"{A}: success rate 80.0% (5 of 25 failed); see `sc monitor failed --type {A}`",
        f"{C}: p95 duration 1500s is 83% of its 30-minute timeout; raise timeout_minutes or look into slow runs",
        f"{A}: 5 attempts timed out",
        f"{B}: 2 attempts timed out",
        "google_sync: 1 jobs ready to run, oldest waiting 2.0 h; add services or slots for this type",
    ]


def test_a_one_day_report_leaves_older_jobs_out(monitor: JobMonitor) -> None:
    report = monitor.get_performance_report(days=1)
    assert [(r["_id"], r["count"]) for r in report["by_job_type"]] == [(A, 20)]
    assert report["summary"]["success_rate"] == 1.0


def test_metrics_and_prometheus_text(monitor: JobMonitor) -> None:
    metrics = monitor.get_performance_metrics(hours=24)
    assert metrics["avg_duration_by_type"] == {A: 10.5}
    assert metrics["p95_duration_by_type"] == {A: pytest.approx(19.0, rel=0.005)}
    assert metrics["queue"]["pending"] == {"google_sync": 1, "rsync_transfer": 1}
    assert metrics["backlog"]["google_sync"] == {"pending": 1, "ready": 1, "oldest_wait_seconds": 7200.0}
    text = queue_metrics_text(monitor)
    assert 'sc_jobs{job_type="dataset_conversion",status="completed"} 21.0' in text
    assert 'sc_jobs_ready{job_type="rsync_transfer"} 0.0' in text
    assert 'sc_jobs_scheduled{job_type="rsync_transfer"} 1.0' in text
    # a google_sync job has been ready for 2 h with no service at all: longer than the 15 min of
    # check_no_service_critical_seconds (one series, its value the state)
    assert "\nsc_health 2.0\n" in text
    assert "# TYPE sc_stale_jobs gauge" in text


def test_overview_shape_and_counts(monitor: JobMonitor) -> None:
    ov = monitor.get_queue_overview()
    assert set(ov) >= {
        "timestamp", "queue_stats", "health_status", "recent_activity", "performance_metrics", "error_summary",
    }
    assert ov["queue_stats"] == {
        "total_jobs": 35,
        "pending_jobs": 2,
        "running_jobs": 0,
        "completed_jobs": 25,
        "failed_jobs": 6,
        "cancelled_jobs": 2,
        "scheduled_jobs": 0,
        "job_types": {C: 1, A: 28, B: 4, "google_sync": 1, "rsync_transfer": 1},
    }
    assert set(ov["health_status"]) == {"overall", "stale_jobs", "failure_rate", "active_workers", "issues"}
    # the ready google_sync job has had no service for 2 h (> check_no_service_critical_seconds)
    assert ov["health_status"]["overall"] == "critical"
    assert ov["health_status"]["issues"] == [
        "1 google_sync job(s) ready but no live service serves google_sync (for 7200s)"
    ]
    assert ov["recent_activity"] == {"completed": 20, "pending": 2}
    assert ov["performance_metrics"] == {"avg_duration_by_type": {A: 10.5}}
    assert ov["error_summary"] == {"by_job_type": [], "total_failures": 0}
