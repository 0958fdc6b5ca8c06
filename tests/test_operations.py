"""sccli.operations: selection, bulk retry/cancel, purge, log tails and waiting (every backend)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from sccli import operations as ops
from sccli.clock import utcnow
from sccli.errors import Conflict, InvalidInput, NotFound
from sccli.queue import JobQueue
from sccli.settings import Settings
from sccli.store.base import JobChange
from tests.conftest import add_dataset


def _job(queue: JobQueue, job_type: str = "data_validation") -> str:
    return queue.create_job(add_dataset(queue.store), job_type)


def _fail(queue: JobQueue, job_id: str) -> None:
    claimed = queue.claim_next("w1", types=[queue.require_job(job_id)["job_type"]])
    assert claimed is not None and claimed["job_id"] == job_id
    queue.fail(job_id, claimed["lease_token"], "boom", retry=False)


def test_parse_duration() -> None:
    assert ops.parse_duration("30m") == 1800
    assert ops.parse_duration("7d") == 7 * 86400
    assert ops.parse_duration("45") == 45
    with pytest.raises(InvalidInput):
        ops.parse_duration("two hours")


def test_select_filters_and_refuses_unknown_values(queue: JobQueue) -> None:
    a, b = _job(queue), _job(queue, "backup_creation")
    old = _job(queue)
    queue.store.update_job(old, {}, JobChange(set={"created_at": utcnow() - timedelta(hours=3)}))
    assert {j["job_id"] for j in ops.select_jobs(queue, status="pending", job_type="data_validation")} == {a, old}
    assert [j["job_id"] for j in ops.select_jobs(queue, older_than_seconds=7200)] == [old]
    assert [j["job_id"] for j in ops.select_jobs(queue, job_type=["backup_creation"])] == [b]
    assert ops.count_selected(queue, status="pending") == 3
    assert len(ops.select_jobs(queue, limit=2)) == 2
    with pytest.raises(InvalidInput):
        ops.select_jobs(queue, status="done")
    with pytest.raises(InvalidInput):
        ops.select_jobs(queue, job_type="nope")


def test_bulk_cancel_and_retry_never_raise_for_one_bad_id(queue: JobQueue) -> None:
    a, b = _job(queue), _job(queue)
    out = ops.bulk_cancel(queue, [a, "missing-id", b, a], reason="maintenance", actor="cli:ops@h")
    assert out["done"] == [a, b]
    assert [r["job_id"] for r in out["refused"]] == ["missing-id"]
    assert queue.require_job(a)["status"] == "cancelled" and queue.require_job(a)["error"] == "maintenance"
    again = ops.bulk_cancel(queue, [a])
    assert again["done"] == [] and "cancelled" in again["refused"][0]["reason"]
    retried = ops.bulk_retry(queue, [a, b, "missing-id"])
    assert retried["done"] == [a, b] and len(retried["refused"]) == 1
    assert queue.require_job(b)["status"] == "pending"
    assert ops.bulk_retry(queue, [a])["refused"][0]["job_id"] == a  # pending now: refused


def test_purge_pending_deletes_only_pending_jobs_and_logs_it(queue: JobQueue) -> None:
    keep_other_type = _job(queue, "backup_creation")
    for _ in range(3):
        queue.create_job(add_dataset(queue.store), "dataset_conversion")
    claimed = queue.claim_next("w1", types=["dataset_conversion"])
    assert claimed is not None
    running = claimed["job_id"]
    pending_before = {j["job_id"] for j in ops.select_jobs(queue, status="pending", job_type="dataset_conversion")}
    preview = ops.purge_pending(queue, "dataset_conversion", dry_run=True)
    assert set(preview["purged"]) == pending_before and queue.get_job(next(iter(pending_before))) is not None
    out = ops.purge_pending(queue, "dataset_conversion", actor="cli:ops@h")
    assert set(out["purged"]) == pending_before and out["dry_run"] is False
    for job_id in pending_before:
        assert queue.get_job(job_id) is None
        events = queue.store.find_events(job_id)
        purge = [e for e in events if e["to"] == "purged"]
        assert len(purge) == 1 and purge[0]["actor"] == "cli:ops@h" and purge[0]["from"] == "pending"
        assert purge[0]["entity"] == "job" and purge[0]["action"] == "purged"  # a deletion, not a JobStatus
    assert queue.require_job(running)["status"] == "running"
    assert queue.require_job(keep_other_type)["status"] == "pending"


def test_log_tail_from_file_then_from_store(queue: JobQueue, tmp_path: Path) -> None:
    settings = Settings(log_dir=str(tmp_path))
    job_id = _job(queue)
    queue.add_log(job_id, "first line")
    queue.add_log(job_id, "second line\nthird line")
    store_tail = ops.job_log_tail(queue.require_job(job_id), settings, lines=2)
    assert store_tail == {
        "source": "store", "path": str(tmp_path / f"sc_job_{job_id}.log"), "lines": ["second line", "third line"],
    }
    (tmp_path / f"sc_job_{job_id}.log").write_text("".join(f"line {i}\n" for i in range(100_000)))
    file_tail = ops.job_log_tail(queue.require_job(job_id), settings, lines=3)
    assert file_tail["source"] == "file" and file_tail["lines"] == ["line 99997", "line 99998", "line 99999"]


def test_wait_for_job(queue: JobQueue) -> None:
    job_id = _job(queue)
    slept: list[float] = []
    out = ops.wait_for_job(
        queue, job_id, timeout=0.05, poll=0.01, sleep=lambda s: slept.append(s) or __import__("time").sleep(s)
    )
    assert out["timed_out"] is True and out["status"] == "pending" and slept
    _fail(queue, job_id)
    done = ops.wait_for_job(queue, job_id, timeout=5)
    assert done["status"] == "failed" and done["timed_out"] is False
    with pytest.raises(NotFound):
        ops.wait_for_job(queue, "nope", timeout=1)


def test_duplicate_error_names_the_existing_job(queue: JobQueue) -> None:
    dataset = add_dataset(queue.store)
    first = queue.create_job(dataset, "data_validation")
    with pytest.raises(Conflict) as err:
        ops.create_job_naming_duplicate(queue, dataset, "data_validation")
    assert first in str(err.value) and "pending" in str(err.value)


def test_explanation_uses_the_jobs_own_timeout_seconds(queue: JobQueue) -> None:
    from sccli.explain import explain_job

    queue.create_job(add_dataset(queue.store), "data_validation", {"timeout_seconds": 90})
    claimed = queue.claim_next("w1")
    assert claimed is not None
    deadline = claimed["started_at"] + timedelta(seconds=90)
    from sccli.clock import iso

    assert f"times out at {iso(deadline)}" in explain_job(queue.store, claimed)
