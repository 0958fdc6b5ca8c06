"""`sc job show` explanations: why a pending job is not running."""

from __future__ import annotations

from datetime import timedelta

from sccli.clock import utcnow
from sccli.explain import explain_job
from sccli.queue import JobQueue
from sccli.store.base import JobChange, Store
from tests.conftest import add_dataset


def worker(
    store: Store, wid: str, *, types: list[str] | None = None, age: float = 0, slots: int = 2, running: int = 0,
    offline: bool = False, status: str = "running",
) -> None:
    store.upsert_worker(
        {
            "worker_id": wid, "host": "h", "pid": 1, "started_at": utcnow(),
            "heartbeat_at": utcnow() - timedelta(seconds=age), "status": status, "types": types, "slots": slots,
            "offline": offline, "running_jobs": [f"j{i}" for i in range(running)], "version": "t",
        }
    )


def test_no_live_service(queue: JobQueue, store: Store) -> None:
    job = queue.get_job(queue.create_job(add_dataset(store), "dataset_conversion"))
    assert any("no live service is running" in r for r in explain_job(store, job))  # type: ignore[arg-type]
    worker(store, "dead", age=600)
    assert any("no live service is running" in r for r in explain_job(store, job))  # type: ignore[arg-type]


def test_jobs_ahead_and_services_of_other_types(queue: JobQueue, store: Store) -> None:
    queue.create_job(add_dataset(store), "dataset_conversion")  # priority 1
    queue.create_job(add_dataset(store), "google_sync")  # priority 2, older
    # priority 2, newest
    job = queue.get_job(queue.create_job(add_dataset(store), "rsync_transfer", {"source": "/a", "destination": "/b"}))
    worker(store, "w1", types=["google_sync"])
    reasons = explain_job(store, job)  # type: ignore[arg-type]
    assert "2 pending job(s) are ahead of it (higher priority or created earlier)" in reasons
    assert any("no live service serves job type rsync_transfer" in r for r in reasons)


def test_waiting_for_retry_busy_slots_and_offline(queue: JobQueue, store: Store) -> None:
    job_id = queue.create_job(add_dataset(store), "google_sync")
    store.update_job(
        job_id, {"status": "pending"}, JobChange(set={"run_after": utcnow() + timedelta(minutes=5), "attempts": 1})
    )
    worker(store, "w1", offline=True)
    reasons = explain_job(store, queue.get_job(job_id))  # type: ignore[arg-type]
    assert any(r.startswith("waiting for retry until") for r in reasons)
    assert any("needs internet access" in r for r in reasons)
    worker(store, "w1", slots=2, running=2)
    assert any("worker slot(s) of the live services are busy" in r for r in explain_job(store, queue.get_job(job_id)))  # type: ignore[arg-type]


def test_running_and_ended_jobs(queue: JobQueue, store: Store) -> None:
    job_id = queue.create_job(add_dataset(store), "dataset_conversion", max_attempts=1)
    job = queue.claim_next("w9")
    assert job is not None
    store.update_job(job_id, {"status": "running"}, JobChange(set={"heartbeat_at": utcnow() - timedelta(minutes=10)}))
    reasons = explain_job(store, queue.get_job(job_id), stale_after_seconds=60)  # type: ignore[arg-type]
    assert reasons[0].startswith("running on w9") and any("stale" in r for r in reasons)
    queue.fail(job_id, job["lease_token"], "exploded")
    assert explain_job(store, queue.get_job(job_id))[0] == "failed after 1 of 1 attempts: exploded"  # type: ignore[arg-type]


def test_why_names_the_cap_or_rate_and_stops_blaming_unrelated_jobs(queue: JobQueue, store: Store) -> None:
    from sccli.controls import parse_rate, set_limits

    worker(store, "w1")
    capped = [queue.create_job(add_dataset(store), "file_extraction", allow_duplicate=True) for _ in range(3)]
    set_limits(store, "file_extraction", {"max_running": 1}, [], "cli:test")
    assert queue.claim_next("w1", ["file_extraction"]) is not None
    later = queue.create_job(add_dataset(store), "data_validation")  # priority 2, behind the capped priority-1 jobs
    reasons = explain_job(store, queue.get_job(capped[2]))  # type: ignore[arg-type]
    assert any("held by its fleet-wide limit: max_running 1 reached" in r for r in reasons), reasons
    assert not any("ahead of it" in r for r in reasons), reasons
    reasons = explain_job(store, queue.get_job(later))  # type: ignore[arg-type]
    assert not any("ahead of it" in r for r in reasons), reasons  # the held jobs ahead do not hold it
    set_limits(store, "file_extraction", {"rate": parse_rate("1/h")}, ["max_running"], "cli:test")
    assert queue.claim_next("w1", ["file_extraction"]) is not None  # the hour's one start
    reasons = explain_job(store, queue.get_job(capped[2]))  # type: ignore[arg-type]
    assert any("rate 1/h reached" in r for r in reasons), reasons
