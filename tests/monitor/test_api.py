"""The original's entry points: SC_JobMonitor(client, db_name) and its method names."""

from __future__ import annotations

import uuid

import mongomock
import pytest

from sccli.compat import SC_JobMonitor
from sccli.errors import NotFound
from sccli.monitor import JobMonitor
from tests.monitor.history import NOW, ago, insert, job


def test_original_constructor_with_a_client() -> None:
    client = mongomock.MongoClient(tz_aware=True)
    monitor = SC_JobMonitor(client, f"sc_{uuid.uuid4().hex[:8]}")
    assert issubclass(SC_JobMonitor, JobMonitor)
    monitor.now = lambda: NOW
    done = insert(monitor.store, job(completed_at=ago(minutes=30), duration=12.0), job(completed_at=ago(days=40)))
    overview = monitor.get_queue_overview()
    assert overview["health_status"]["overall"] == "healthy" and overview["queue_stats"]["completed_jobs"] == 2
    assert monitor.get_performance_metrics()["avg_duration_by_type"] == {"dataset_conversion": 12.0}
    details = monitor.get_job_details(done[0])
    assert (
        details is not None
        and details["duration_seconds"] == 12.0
        and details["wait_seconds"] == 5.0
        and details["events"] == []
    )
    assert JobMonitor(monitor.store).get_job_details("missing") is None
    with pytest.raises(NotFound, match="no job with id 'missing'"):  # the compat class says so (the spec's snippet)
        monitor.get_job_details("missing")
    assert monitor.get_stale_jobs() == [] and monitor.get_active_workers() == []
    result = monitor.cleanup_old_data(days=30)
    assert {k: result[k] for k in ("completed_jobs_deleted", "failed_jobs_deleted", "cancelled_jobs_deleted")} == {
        "completed_jobs_deleted": 1, "failed_jobs_deleted": 0, "cancelled_jobs_deleted": 0,
    }
    assert monitor.retry_failed_job(done[0]) is False and monitor.cancel_job("nope") is False
