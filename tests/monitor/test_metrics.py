"""The queue's gauges at /metrics, parsed by prometheus_client's own parser, on every backend."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from sccli.domain import JobStatus
from sccli.monitor import JobMonitor
from sccli.monitor.metrics import queue_metrics_text
from sccli.pause import pause_types
from sccli.store.base import Store
from tests.monitor.history import NOW, ago, insert, job, worker

PER_TYPE = (
    "sc_jobs_ready",
    "sc_jobs_scheduled",
    "sc_jobs_running",
    "sc_job_oldest_ready_age_seconds",
    "sc_type_live_services",
    "sc_type_paused",
)


def parse(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """{family name: {sorted labels: value}}; a label set seen twice fails (one series each)."""
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            assert key not in out.setdefault(sample.name, {}), f"{sample.name}{key} exported twice"
            out[sample.name][key] = sample.value
    return out


def test_every_series_is_present_at_zero_on_an_empty_store(store: Store) -> None:
    monitor = JobMonitor(store, clock=lambda: NOW)
    found = parse(queue_metrics_text(monitor))
    types = monitor.queue.known_types
    assert len(types) >= 8
    jobs = found["sc_jobs"]
    assert len(jobs) == len(JobStatus) * len(types)  # every status of the enum (scheduled too, once it exists)
    assert all(jobs[(("job_type", t), ("status", s.value))] == 0 for s in JobStatus for t in types)
    for name in PER_TYPE:
        assert found[name] == {(("job_type", t),): 0 for t in types}, name
    for name in ("sc_live_services", "sc_stale_jobs"):
        assert found[name] == {(): 0}, name
    assert found["sc_health"] == {(): 0}  # one series, no state label
    ((labels, one),) = found["sc_build_info"].items()
    assert one == 1 and dict(labels)["version"]
    assert "sc_retention_last_run_timestamp_seconds" not in found  # no retention record: no series, the alert says so


def test_figures_follow_the_queue(store: Store) -> None:
    insert(store, job("google_sync", "pending", duration=None, created_at=ago(hours=2), worker_id=None))
    insert(store, job("google_sync", "pending", duration=None, created_at=ago(minutes=10), worker_id=None))
    insert(
        store,
        job("rsync_transfer", "pending", duration=None, created_at=ago(hours=3), worker_id=None)
        | {"run_after": NOW + timedelta(hours=1)},
    )
    insert(
        store,
        job("dataset_conversion", "running", duration=None, started_at=ago(seconds=30), heartbeat_at=ago(seconds=1)),
    )
    insert(store, job("data_validation", "failed", completed_at=ago(hours=5)))
    worker(store, "w1", ago(seconds=1))
    worker(store, "w2", ago(hours=1))  # dead: not counted
    monitor = JobMonitor(store, clock=lambda: NOW)
    found = parse(queue_metrics_text(monitor))
    assert found["sc_jobs_ready"][(("job_type", "google_sync"),)] == 2
    assert found["sc_job_oldest_ready_age_seconds"][(("job_type", "google_sync"),)] == 7200  # due since it was created
    assert found["sc_jobs_scheduled"][(("job_type", "rsync_transfer"),)] == 1
    assert found["sc_jobs_ready"][(("job_type", "rsync_transfer"),)] == 0
    assert found["sc_job_oldest_ready_age_seconds"][(("job_type", "rsync_transfer"),)] == 0
    assert found["sc_jobs_running"][(("job_type", "dataset_conversion"),)] == 1
    assert found["sc_jobs"][(("job_type", "data_validation"), ("status", "failed"))] == 1
    assert found["sc_live_services"] == {(): 1}
    assert found["sc_type_live_services"][(("job_type", "google_sync"),)] == 1  # w1 serves every type
    assert len(found["sc_health"]) == 1
    pause_types(store, ["google_sync"], "quota", "cli:test")
    found = parse(queue_metrics_text(monitor))
    assert found["sc_type_paused"][(("job_type", "google_sync"),)] == 1
    assert found["sc_type_paused"][(("job_type", "rsync_transfer"),)] == 0


def test_health_is_one_series_whose_value_changes(store: Store) -> None:
    monitor = JobMonitor(store, clock=lambda: NOW)
    assert parse(queue_metrics_text(monitor))["sc_health"] == {(): 0}
    # a job ready for 2 h and no service at all: critical (check_no_service_critical_seconds is 15 min)
    insert(store, job("google_sync", "pending", duration=None, created_at=ago(hours=2), worker_id=None))
    assert parse(queue_metrics_text(monitor))["sc_health"] == {(): 2}
