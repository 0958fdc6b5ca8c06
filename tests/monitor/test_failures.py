"""Failed jobs: dataset join, retry_available, signatures and their grouping, retries."""

from __future__ import annotations

from sccli.monitor import JobMonitor
from sccli.monitor.signatures import error_signature, signature_id
from sccli.queue import JobQueue
from sccli.store.base import Store
from tests.conftest import add_dataset
from tests.monitor.history import NOW, ago, insert, job

A, B = "dataset_conversion", "google_sync"
NOT_FOUND = "input /mnt/visus_datasets/upload/{u}/data.bin not found (job {j})"


def failed(job_type: str, error: str, minutes: float, attempts: int = 2, **kw: object) -> dict:
    return job(
        job_type, "failed", completed_at=ago(minutes=minutes), attempts=attempts, max_attempts=2, error=error, **kw
    )  # type: ignore[arg-type]


def build(store: Store) -> dict[str, str]:
    uuid = add_dataset(store, "conversion error", user="ana@example.org", sensor="4D_Probe")
    docs = [
        failed(A, NOT_FOUND.format(u="5f0c1d2e-1111-4222-8333-444455556666", j=1), 10, dataset_uuid=uuid),
        failed(A, NOT_FOUND.format(u="6a0c1d2e-1111-4222-8333-444455556666", j=2), 20, attempts=1),
        failed(A, NOT_FOUND.format(u="7b0c1d2e-1111-4222-8333-444455556666", j=3), 30),
        failed(A, "converter exited with code 137", 40),
        failed(B, "HTTP 503 from drive after 3 tries", 50),
        failed(B, "HTTP 429 from drive after 5 tries", 60),
        failed(B, "quota exceeded", 60 * 30),  # 30 h ago: outside the default 24 h
        job(A, completed_at=ago(minutes=5)),
    ]
    insert(store, *docs)
    return {"dataset": uuid, "newest": docs[0]["job_id"], "single": docs[1]["job_id"]}


def test_signatures_normalise_ids_paths_numbers() -> None:
    assert (
        error_signature(NOT_FOUND.format(u="5f0c1d2e-1111-4222-8333-444455556666", j=9))
        == "input <path> not found (job <n>)"
    )
    assert error_signature("lease 0123456789abcdef0123456789abcdef lost after 12.5 s") == "lease <hex> lost after <n> s"
    assert error_signature("job 5f0c1d2e-1111-4222-8333-444455556666 failed") == "job <uuid> failed"
    assert error_signature("  ") == "(no error text)"
    assert signature_id("x") == signature_id("x") and len(signature_id("x")) == 8


def test_failed_jobs_carry_dataset_and_retry_available(store: Store) -> None:
    ids = build(store)
    jobs = JobMonitor(store, clock=lambda: NOW).get_failed_jobs(24)
    assert [j["job_type"] for j in jobs] == [A, A, A, A, B, B]
    first = jobs[0]
    assert first["job_id"] == ids["newest"] and first["retry_available"] is False
    assert first["dataset"] == {
        "name": "test dataset", "user": "ana@example.org", "status": "conversion error", "sensor": "4D_Probe",
    }
    assert first["signature"] == "input <path> not found (job <n>)"
    assert jobs[1]["dataset"] is None and jobs[1]["retry_available"] is True
    assert len(JobMonitor(store, clock=lambda: NOW).get_failed_jobs(48)) == 7


def test_failure_groups_merge_by_signature(store: Store) -> None:
    build(store)
    groups = JobMonitor(store, clock=lambda: NOW).get_failure_groups(24)
    summary = [(g["job_type"], g["signature"], g["count"], g["retry_available"]) for g in groups]
    assert summary == [
        (A, "input <path> not found (job <n>)", 3, 1),
        (B, "HTTP <n> from drive after <n> tries", 2, 0),
        (A, "converter exited with code <n>", 1, 0),
    ]
    top = groups[0]
    assert (top["first_seen"], top["last_seen"]) == (ago(minutes=30), ago(minutes=10))
    assert top["example"] == NOT_FOUND.format(u="5f0c1d2e-1111-4222-8333-444455556666", j=1)
    assert len(top["job_ids"]) == 3


def test_group_filters_and_overview_error_summary(store: Store) -> None:
    build(store)
    monitor = JobMonitor(store, clock=lambda: NOW)
    assert [g["count"] for g in monitor.get_failure_groups(24, job_type=B)] == [2]
    sig = monitor.get_failure_groups(24)[0]["signature_id"]
    assert [g["count"] for g in monitor.get_failure_groups(24, signature=sig)] == [3]
    assert [g["count"] for g in monitor.get_failure_groups(24, signature="HTTP")] == [2]
    summary = monitor.get_queue_overview()["error_summary"]
    assert summary == {
        "total_failures": 6,
        "by_job_type": [
            {"_id": A, "count": 4, "errors": ["input <path> not found (job <n>)", "converter exited with code <n>"]},
            {"_id": B, "count": 2, "errors": ["HTTP <n> from drive after <n> tries"]},
        ],
    }


def test_retry_selected_groups(store: Store) -> None:
    build(store)
    queue = JobQueue(store, actor="cli:test@host")
    monitor = JobMonitor(queue=queue, clock=lambda: NOW)
    dry = monitor.retry_failed_jobs(24, job_type=B, dry_run=True)
    assert len(dry["retried"]) == 2 and dry["dry_run"] is True
    assert all(store.get_job(i)["status"] == "failed" for i in dry["retried"])
    done = monitor.retry_failed_jobs(24, job_type=B)
    assert sorted(done["retried"]) == sorted(dry["retried"]) and done["skipped"] == []
    assert all(store.get_job(i)["status"] == "pending" for i in done["retried"])
    assert monitor.retry_failed_job(done["retried"][0]) is False  # pending now: nothing to retry
    assert monitor.cancel_job(done["retried"][0]) is True
    assert store.get_job(done["retried"][0])["status"] == "cancelled"
