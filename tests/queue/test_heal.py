"""An administrator's retry heals a dataset only as the contract says: from ``failed`` or the
job type's own error status, back to that type's ready status. From anywhere else the move is
refused (recorded as an event), and the retried job still runs."""

from __future__ import annotations

import pytest

from sccli.queue import JobQueue
from sccli.store.base import Store
from tests.conftest import add_dataset


def run_to_end(queue: JobQueue) -> str:
    job = queue.claim_next("w1")
    assert job is not None
    done = queue.complete(job["job_id"], job["lease_token"])
    assert done is not None
    return str(done["status"])


def test_a_retried_compression_does_not_move_a_submitted_dataset(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)  # submitted: compression's stages are not reachable from here
    job_id = queue.create_job(ds, "data_compression")
    queue.cancel(job_id)
    queue.retry(job_id)
    assert store.get_dataset(ds)["status"] == "submitted"  # type: ignore[index]
    assert run_to_end(queue) == "completed"  # the job still runs
    assert store.get_dataset(ds)["status"] == "submitted"  # type: ignore[index]  # never through zipping to done
    assert ("submitted", "zipping") in queue_refusals(queue, job_id)


def test_a_retried_conversion_does_not_move_a_done_dataset_back(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store, "done")
    job_id = queue.create_job(ds, "dataset_conversion")
    queue.cancel(job_id)
    queue.retry(job_id)
    assert store.get_dataset(ds)["status"] == "done"  # type: ignore[index]
    assert ("done", "conversion queued") in queue_refusals(queue, job_id)
    assert run_to_end(queue) == "completed"


@pytest.mark.parametrize("broken", ["failed", "conversion error"])
def test_a_retry_heals_from_failed_or_the_types_error_status(queue: JobQueue, store: Store, broken: str) -> None:
    ds = add_dataset(store)
    job_id = queue.create_job(ds, "dataset_conversion", max_attempts=1)
    job = queue.claim_next("w1")
    assert job is not None
    queue.fail(job_id, job["lease_token"], "broken input")
    assert store.get_dataset(ds)["status"] == "failed"  # type: ignore[index]
    if broken != "failed":
        from sccli.datasets import move_dataset

        assert move_dataset(store, ds, broken, actor="test", reason="set up", force=True)
    queue.retry(job_id)
    assert store.get_dataset(ds)["status"] == "conversion queued"  # type: ignore[index]
    assert run_to_end(queue) == "completed"
    assert store.get_dataset(ds)["status"] == "done"  # type: ignore[index]


def test_a_retry_does_not_heal_another_types_error(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store, "sync error")
    job_id = queue.create_job(ds, "dataset_conversion")
    queue.cancel(job_id)
    queue.retry(job_id)
    assert store.get_dataset(ds)["status"] == "sync error"  # type: ignore[index]
    assert ("sync error", "conversion queued") in queue_refusals(queue, job_id)


def queue_refusals(queue: JobQueue, job_id: str) -> list[tuple[str, str]]:
    """The refused dataset moves recorded for ``job_id`` (as ``sc job show`` explains them)."""
    events = queue.store.find_events(job_id)
    return [(e["from"], e["to"]) for e in events if e.get("entity") == "dataset" and e.get("refused")]
