"""JobQueue.create_job: validation, defaults from the type table, de-duplication."""

from __future__ import annotations

import pytest

from sccli.domain import JOB_TYPE_CONFIGS
from sccli.errors import Conflict, InvalidInput, NotFound
from sccli.queue import JobQueue
from sccli.store.base import JobQuery, Store
from tests.conftest import add_dataset, new_uuid


@pytest.mark.parametrize("job_type", sorted(JOB_TYPE_CONFIGS))
def test_defaults_come_from_the_type_table(queue: JobQueue, store: Store, job_type: str) -> None:
    ds = add_dataset(store)
    params = {"source": "/data/in", "destination": "/data/out"} if job_type == "rsync_transfer" else {}
    job = queue.get_job(queue.create_job(ds, job_type, params))
    config = JOB_TYPE_CONFIGS[job_type]
    assert job is not None
    assert (job["priority"], job["max_attempts"], job["timeout_minutes"]) == (
        config.priority, config.max_attempts, config.timeout_minutes,
    )
    assert job["status"] == "pending" and job["attempts"] == 0 and job["active_key"] == f"{ds}:{job_type}"
    assert job["created_by"] == "cli:test@host"


def test_explicit_values_override_defaults(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    job = queue.get_job(
        queue.create_job(
            ds, "google_sync", {"data_url": "https://drive.google.com/x"}, priority="low", max_attempts=7,
            timeout_minutes=3,
        )
    )
    assert job is not None and (job["priority"], job["max_attempts"], job["timeout_minutes"]) == (3, 7, 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"job_type": "nope"}, "unknown job type"),
        ({"dataset_uuid": "not-a-uuid"}, "malformed dataset UUID"),
        ({"priority": 0}, "priority"),
        ({"priority": 4}, "priority"),
        ({"priority": "urgent"}, "priority"),
        ({"priority": True}, "priority"),
        ({"parameters": ["a"]}, "JSON object"),
        ({"parameters": "x=1"}, "JSON object"),
        ({"parameters": {"f": object()}}, "JSON"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"timeout_minutes": -5}, "timeout_minutes"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(queue: JobQueue, store: Store, kwargs: dict, message: str) -> None:
    ds = add_dataset(store)
    args = {"dataset_uuid": ds, "job_type": "dataset_conversion", "parameters": {}} | kwargs
    with pytest.raises(InvalidInput, match=message):
        queue.create_job(**args)
    assert store.count_jobs(JobQuery()) == 0
    assert store.get_dataset(ds)["status"] == "submitted"  # type: ignore[index]


def test_unknown_dataset_is_refused_unless_allowed(queue: JobQueue, store: Store) -> None:
    ds = new_uuid()
    with pytest.raises(NotFound, match="not found"):
        queue.create_job(ds, "dataset_conversion")
    assert store.count_jobs(JobQuery()) == 0
    job_id = queue.create_job(ds, "dataset_conversion", allow_missing_dataset=True)
    assert queue.get_job(job_id)["dataset_uuid"] == ds  # type: ignore[index]


def test_duplicate_active_job_is_a_conflict_until_the_first_ends(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    first = queue.create_job(ds, "dataset_conversion")
    with pytest.raises(Conflict):
        queue.create_job(ds, "dataset_conversion")
    queue.create_job(ds, "data_validation")  # another type is fine
    second = queue.create_job(ds, "dataset_conversion", allow_duplicate=True)
    assert second != first
    queue.cancel(first)
    queue.create_job(ds, "dataset_conversion")  # the key was released
    assert store.count_jobs(JobQuery(dataset_uuid=ds)) == 4


def test_plugin_types_are_accepted_when_registered(store: Store) -> None:
    ds = add_dataset(store)
    q = JobQueue(store, extra_types=["thumbnail"])
    job = q.get_job(q.create_job(ds, "thumbnail", {}))
    assert job is not None and job["max_attempts"] == 3
    with pytest.raises(InvalidInput):
        JobQueue(store).create_job(ds, "thumbnail")


def test_creation_moves_the_dataset_to_the_queued_status(queue: JobQueue, store: Store) -> None:
    ds = add_dataset(store)
    queue.create_job(ds, "google_sync")
    assert store.get_dataset(ds)["status"] == "sync queued"  # type: ignore[index]
    ds2 = add_dataset(store)
    queue.create_job(ds2, "file_extraction")  # no queued status for extraction
    assert store.get_dataset(ds2)["status"] == "submitted"  # type: ignore[index]


def test_original_constructor_with_a_mongo_client() -> None:
    import mongomock

    from sccli.compat import SC_JobQueueManager

    client = mongomock.MongoClient(tz_aware=True)
    manager = SC_JobQueueManager(client, "scientistcloud")
    job_id = manager.create_job(
        dataset_uuid="550e8400-e29b-41d4-a716-446655440000",
        job_type="dataset_conversion",
        parameters={
            "input_path": "/path/to/input", "sensor_type": "4D_Probe",
            "conversion_params": {"Xs_dataset": "path/to/Xs"},
        },
        priority=1,
        allow_missing_dataset=True,
    )
    assert client["scientistcloud"]["jobs"].find_one({"job_id": job_id})["priority"] == 1
