"""The checked state machine: permanent failures fail once, retries heal datasets, repairs follow the table."""

from __future__ import annotations

import pytest

from sccli.datasets import set_dataset_status
from sccli.domain import DatasetStatus, ErrorKind, JobStatus
from sccli.errors import Conflict, InvalidInput
from sccli.queue import JobQueue
from sccli.store.base import JobQuery, Store
from tests.conftest import add_dataset


def claim(queue: JobQueue) -> dict:
    job = queue.claim_next("w1")
    assert job is not None
    return job


def test_permanent_failure_fails_at_once_without_backoff(queue: JobQueue, store: Store) -> None:
    queue.lifecycle.retry_base_seconds = queue.lifecycle.retry_max_seconds = 3600.0
    ds = add_dataset(store)
    job_id = queue.create_job(ds, "file_extraction")  # 3 attempts by default
    job = claim(queue)
    failed = queue.fail(job_id, job["lease_token"], "corrupt archive: not a zip file", kind=ErrorKind.PERMANENT)
    assert failed is not None and failed["status"] == JobStatus.FAILED and failed["attempts"] == 1
    assert failed["errors"][-1]["kind"] == "permanent"
    assert store.get_dataset(ds)["status"] == DatasetStatus.FAILED  # type: ignore[index]
    events = [(e["from"], e["to"]) for e in store.find_events(job_id) if e.get("entity") == "dataset"]
    assert events[-2:] == [("unzipping", "unzip error"), ("unzip error", "failed")]


def test_transient_failure_is_retried_with_backoff(queue: JobQueue, store: Store) -> None:
    queue.lifecycle.retry_base_seconds = queue.lifecycle.retry_max_seconds = 3600.0
    ds = add_dataset(store)
    job_id = queue.create_job(ds, "google_sync")
    job = claim(queue)
    again = queue.fail(job_id, job["lease_token"], "rclone: connection reset by peer", kind=ErrorKind.ERROR)
    assert again is not None and again["status"] == JobStatus.SCHEDULED  # out of every claim while it waits
    assert (again["run_after"] - again["updated_at"]).total_seconds() >= 1800  # 3600 s ±50 %
    assert store.get_dataset(ds)["status"] == DatasetStatus.SYNC_QUEUED  # type: ignore[index]
    assert queue.claim_next("w1") is None  # not before its backoff


def test_retried_conversion_heals_a_failed_dataset_to_done(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    job_id = queue.create_job(ds, "dataset_conversion", max_attempts=1)
    job = claim(queue)
    queue.fail(job_id, job["lease_token"], "converter crashed")
    assert store.get_dataset(ds)["status"] == "failed"  # type: ignore[index]
    queue.retry(job_id, actor="cli:admin@host")
    healed = store.get_dataset(ds)
    assert healed is not None and healed["status"] == "conversion queued"
    heal = [e for e in store.find_events(job_id) if e.get("entity") == "dataset" and e["from"] == "failed"]
    assert heal and heal[0]["actor"] == "cli:admin@host" and "healed" in heal[0]["reason"]
    job = claim(queue)
    assert queue.complete(job_id, job["lease_token"], {"status": "ok"}) is not None
    assert store.get_dataset(ds)["status"] == "done"  # type: ignore[index]


def test_retry_heals_from_the_types_error_status(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    job_id = queue.create_job(ds, "file_upload")
    queue.cancel(job_id, "wrong files")
    assert store.get_dataset(ds)["status"] == "upload error"  # type: ignore[index]
    queue.retry(job_id)
    assert store.get_dataset(ds)["status"] == "upload queued"  # type: ignore[index]


def test_set_status_follows_the_table_unless_forced(store: Store) -> None:
    ds = add_dataset(store, status="done")
    with pytest.raises(Conflict, match="does not allow"):
        set_dataset_status(store, ds, "conversion queued", reason="reconvert", actor="cli:admin@host")
    assert store.get_dataset(ds)["status"] == "done"  # type: ignore[index]
    with pytest.raises(InvalidInput):
        set_dataset_status(store, ds, "bogus", reason="x", actor="cli:admin@host")
    with pytest.raises(InvalidInput, match="reason"):
        set_dataset_status(store, ds, "zipping", reason=" ", actor="cli:admin@host")
    assert set_dataset_status(store, ds, "zipping", reason="compress", actor="cli:admin@host")["status"] == "zipping"
    forced = set_dataset_status(store, ds, "conversion queued", reason="reconvert", actor="cli:admin@host", force=True)
    assert forced["status"] == "conversion queued"


def test_chained_conversion_carries_the_datasets_sensor(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store, sensor="4D_Probe", conversion_parameters={"Xs_dataset": "x", "Ys_dataset": "y"})
    job_id = queue.create_job(ds, "file_extraction", {"destination": "/data/x"}, allow_missing_dataset=True)
    job = claim(queue)
    queue.complete(job_id, job["lease_token"], {"status": "ok"})
    child = store.find_jobs(JobQuery(parent_job_id=job_id))
    assert len(child) == 1 and child[0]["job_type"] == "dataset_conversion"
    assert child[0]["parameters"]["sensor_type"] == "4D_Probe"
    assert child[0]["parameters"]["conversion_params"] == {"Xs_dataset": "x", "Ys_dataset": "y"}
    assert store.get_dataset(ds)["status"] == "conversion queued"  # type: ignore[index]


def test_completing_twice_never_creates_two_children(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    job_id = queue.create_job(ds, "google_sync")
    job = claim(queue)
    assert queue.complete(job_id, job["lease_token"], {"status": "ok"}) is not None
    assert queue.complete(job_id, job["lease_token"], {"status": "ok"}) is None
    done = queue.require_job(job_id)
    queue.finish_followups({**done, "outbox": done.get("outbox") or []})
    assert len(store.find_jobs(JobQuery(parent_job_id=job_id))) == 1


def test_submitted_archive_goes_straight_to_unzipping(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    queue.create_job(ds, "file_extraction")
    claim(queue)
    assert store.get_dataset(ds)["status"] == "unzipping"  # type: ignore[index]


def test_a_result_too_large_to_record_fails_once(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    job_id = queue.create_job(ds, "dataset_conversion", max_attempts=2)
    job = claim(queue)
    failed = queue.complete(job_id, job["lease_token"], {"status": "ok", "checksum": 2**70})
    assert failed is not None and failed["status"] == JobStatus.FAILED and failed["attempts"] == 1
    assert failed["errors"][-1]["kind"] == ErrorKind.TOO_LARGE and "64 bits" in failed["error"]
    assert store.get_dataset(ds)["status"] == DatasetStatus.FAILED  # type: ignore[index]


@pytest.mark.parametrize(
    "parameters",
    [{"sensor_type": 2**64}, {"conversion_params": {"a": float("nan")}}, {"conversion_params": {"$where": "x"}}],
)
def test_parameters_the_store_cannot_hold_are_refused_at_creation(
    queue: JobQueue, store: Store, parameters: dict
) -> None:
    from sccli.store.base import JobQuery

    ds = add_dataset(store)
    with pytest.raises(InvalidInput, match="parameters"):
        queue.create_job(ds, "dataset_conversion", parameters)
    assert store.count_jobs(JobQuery()) == 0 and store.get_dataset(ds)["status"] == "submitted"  # type: ignore[index]
