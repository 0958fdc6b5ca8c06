"""Each ended attempt's ``resources`` entry is appended with its outcome, on every backend; a
``memory`` failure is not retried, an explicit retry runs the job again."""

from __future__ import annotations

from sccli.domain import ErrorKind
from sccli.queue import JobQueue
from sccli.store.base import Store
from tests.conftest import add_dataset


def used(attempt: int, peak: int) -> dict:
    return {"attempt": attempt, "worker": "w1", "cpu_seconds": 0.5, "user_seconds": 0.4, "system_seconds": 0.1,
            "peak_rss_bytes": peak, "read_bytes": 10, "write_bytes": 20}


def test_outcomes_append_their_attempts_resources(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    job_id = queue.create_job(ds, "dataset_conversion", max_attempts=3)
    job = queue.claim_next("w1")
    assert job is not None
    failed = queue.fail(job_id, job["lease_token"], "tool crashed", resources=used(1, 100))
    assert failed is not None and failed["status"] == "pending" and failed["resources"] == [used(1, 100)]
    job = queue.claim_next("w1")
    assert job is not None
    assert queue.complete(job_id, "not-the-lease", {}, resources=used(2, 999)) is None  # a lost lease records nothing
    done = queue.complete(job_id, job["lease_token"], {"status": "ok"}, resources=used(2, 200))
    assert done is not None and done["status"] == "completed"
    assert queue.get_job(job_id)["resources"] == [used(1, 100), used(2, 200)]  # type: ignore[index]
    other = queue.create_job(add_dataset(store), "dataset_conversion")
    running = queue.claim_next("w1")
    assert running is not None and running["job_id"] == other
    queue.cancel(other)
    cancelled = queue.mark_cancelled(other, running["lease_token"], resources=used(1, 300))
    assert cancelled is not None and cancelled["status"] == "cancelled" and cancelled["resources"] == [used(1, 300)]


def test_a_memory_failure_is_not_retried_until_asked(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    job_id = queue.create_job(ds, "dataset_conversion", max_attempts=3)
    job = queue.claim_next("w1")
    assert job is not None
    message = "memory limit exceeded: used 1.2 GB, limit 1.0 GB for dataset_conversion; process group killed"
    failed = queue.fail(job_id, job["lease_token"], message, kind=ErrorKind.MEMORY, resources=used(1, 1288490188))
    assert failed is not None and failed["status"] == "failed" and failed["attempts"] == 1
    assert failed["errors"][-1]["kind"] == "memory" and failed["resources"][-1]["peak_rss_bytes"] == 1288490188
    assert store.get_dataset(ds)["status"] == "failed"  # type: ignore[index]
    retried = queue.retry(job_id)  # after the limit was raised, an operator's retry runs it again
    assert retried["status"] == "pending" and retried["resources"] == failed["resources"]


def test_the_report_reads_a_bounded_sample_of_only_the_fields_it_needs(queue: JobQueue, store: Store) -> None:
    from datetime import timedelta

    from sccli.monitor.report import resource_rows
    from sccli.store.base import JobQuery

    for peak in (100, 300, 200):
        job_id = queue.create_job(add_dataset(store), "data_validation")
        job = queue.claim_next("w1")
        assert job is not None and job["job_id"] == job_id
        queue.complete(job_id, job["lease_token"], {"status": "ok"}, resources=used(1, peak))
    queue.create_job(add_dataset(store), "data_validation")  # not finished: not in the window's sample
    slim = store.find_jobs(JobQuery(status=["completed"]), fields=("job_type", "resources"))
    assert len(slim) == 3 and all(set(doc) == {"job_type", "resources"} for doc in slim)
    now = store.now()
    rows = resource_rows(store, now - timedelta(days=1), now + timedelta(seconds=1))
    assert rows["sampled_jobs"] == 3 and rows["by_job_type"] == [{
        "job_type": "data_validation", "attempts": 3, "p50_peak_rss_bytes": 200, "p95_peak_rss_bytes": 300,
        "p50_cpu_seconds": 0.5, "p95_cpu_seconds": 0.5}]
    two = resource_rows(store, now - timedelta(days=1), now + timedelta(seconds=1), limit=2)
    assert two["sampled_jobs"] == 2 and two["by_job_type"][0]["attempts"] == 2  # the two that finished last
