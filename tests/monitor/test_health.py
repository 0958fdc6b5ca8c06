"""Health transitions at the thresholds, stale classification and fenced recovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from sccli.monitor import JobMonitor
from sccli.monitor.health import check_line
from sccli.queue import JobQueue
from sccli.store import open_store
from sccli.store.base import Store
from tests.monitor.history import NOW, ago, insert, job, worker


def finished(store: Store, completed: int, failed: int) -> None:
    insert(store, *[job(completed_at=ago(minutes=30)) for _ in range(completed)])
    insert(store, *[job(status="failed", completed_at=ago(minutes=30), error="x") for _ in range(failed)])


def silent_jobs(store: Store, n: int) -> None:
    worker(store, "w-alive", ago(5))
    insert(
        store,
        *[
            job(
                status="running", worker_id="w-alive", started_at=ago(minutes=10), heartbeat_at=ago(minutes=5),
                duration=None,
            )
            for _ in range(n)
        ],
    )


def health(store: Store) -> dict:
    return JobMonitor(store, clock=lambda: NOW).get_queue_overview()["health_status"]


@pytest.mark.parametrize(
    ("completed", "failed", "overall", "rate"),
    [(4, 1, "healthy", 0.2), (7, 2, "critical", 0.2222), (0, 0, "healthy", 0.0), (0, 1, "critical", 1.0)],
)
def test_failure_rate_threshold(store: Store, completed: int, failed: int, overall: str, rate: float) -> None:
    finished(store, completed, failed)
    insert(store, job(status="failed", completed_at=ago(minutes=90), error="older than an hour"))
    h = health(store)
    assert (h["overall"], h["failure_rate"]) == (overall, rate)
    assert bool(h["issues"]) == (overall == "critical")


@pytest.mark.parametrize(("stale", "overall"), [(5, "healthy"), (6, "warning")])
def test_stale_threshold(store: Store, stale: int, overall: str) -> None:
    silent_jobs(store, stale)
    h = health(store)
    assert (h["overall"], h["stale_jobs"], h["active_workers"]) == (overall, stale, 1)


def test_critical_wins_over_warning(store: Store) -> None:
    silent_jobs(store, 6)
    finished(store, 3, 1)
    h = health(store)
    assert h["overall"] == "critical" and len(h["issues"]) == 2


def test_unknown_when_the_store_cannot_be_read(tmp_path: Path) -> None:
    monitor = JobMonitor(open_store(f"sqlite:///{tmp_path}"))  # a directory, not a database file
    assert monitor.get_queue_overview()["health_status"]["overall"] == "unknown"
    code, line = monitor.check()
    assert code == 3 and line.startswith("SC QUEUE UNKNOWN - cannot read the store")


def test_check_line_and_codes(store: Store) -> None:
    silent_jobs(store, 6)
    code, line = JobMonitor(store, clock=lambda: NOW).check()
    assert code == 1
    assert line == (
        "SC QUEUE WARNING - warning: 6 stale running jobs (more than 5); see `sc monitor stale` | "
        "failure_rate=0.0000;;0.2000;0;1 stale_jobs=6;5;;0; active_workers=1;;;0;"
    )
    assert check_line(
        {"overall": "healthy", "failure_rate": 0.0, "stale_jobs": 0, "active_workers": 2, "issues": []}, 0.2, 5
    ).startswith("SC QUEUE OK - healthy: no issues |")


def stale_history(store: Store) -> dict[str, str]:
    worker(store, "w-alive", ago(5))
    worker(store, "w-dead", ago(300))
    worker(store, "w-stopped", ago(5), status="stopped")
    running = {"started_at": ago(minutes=10), "duration": None}
    docs = {
        "fine": job(status="running", worker_id="w-alive", heartbeat_at=ago(5), **running),
        "silent": job(status="running", worker_id="w-alive", heartbeat_at=ago(120), **running),
        "over": job(
            status="running", worker_id="w-alive", heartbeat_at=ago(5), started_at=ago(minutes=61), duration=None,
            timeout_minutes=60,
        ),
        "dead": job(status="running", worker_id="w-dead", heartbeat_at=ago(400), attempts=2, max_attempts=2, **running),
        "stopped": job(status="running", worker_id="w-stopped", heartbeat_at=ago(5), **running),
        "missing": job(status="running", worker_id="w-gone", heartbeat_at=ago(5), **running),
    }
    insert(store, *docs.values())
    return {name: doc["job_id"] for name, doc in docs.items()}


def test_stale_classification(store: Store) -> None:
    ids = stale_history(store)
    stale = {j["job_id"]: j for j in JobMonitor(store, clock=lambda: NOW).get_stale_jobs()}
    reasons = {name: stale[i]["stale_reason"] for name, i in ids.items() if i in stale}
    assert reasons == {
        "silent": "job_silent", "over": "over_timeout", "dead": "service_dead", "stopped": "service_dead",
        "missing": "service_dead",
    }
    assert stale[ids["silent"]]["heartbeat_age_seconds"] == 120.0
    assert stale[ids["over"]]["running_seconds"] == 3660.0
    assert stale[ids["dead"]]["retry_left"] is False
    assert list(stale)[0] == ids["dead"]  # oldest heartbeat first


def test_requeue_is_fenced(store: Store) -> None:
    ids = stale_history(store)
    queue = JobQueue(store, actor="cli:test@host", retry_base_seconds=0.0, retry_max_seconds=0.0)
    monitor = JobMonitor(queue=queue, clock=lambda: NOW)
    docs = {j["job_id"]: j for j in store.stats.stale_running_jobs(NOW, ago(60))}  # read before the requeue: old leases
    done = {r["job_id"]: r["status"] for r in monitor.requeue_stale_jobs()}
    assert done == {
        ids["silent"]: "pending", ids["over"]: "pending", ids["dead"]: "failed", ids["stopped"]: "pending",
        ids["missing"]: "pending",
    }
    assert store.get_job(ids["fine"])["status"] == "running"
    over = store.get_job(ids["over"])
    assert over["errors"][-1]["kind"] == "timeout" and store.get_job(ids["silent"])["errors"][-1]["kind"] == "stale"
    from sccli.monitor.stale import recover

    assert recover(queue, docs[ids["silent"]], "cli:test") is None  # its lease is gone: left alone
