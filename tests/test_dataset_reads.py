"""The core's dataset reads that the CLI uses: validated the same way as everywhere else."""

from __future__ import annotations

import pytest

from sccli.datasets import count_datasets, dataset_with_jobs, list_datasets
from sccli.domain import DatasetStatus
from sccli.errors import InvalidInput, NotFound
from sccli.queue import JobQueue
from tests.conftest import add_dataset, new_uuid


def test_dataset_with_jobs_lists_its_jobs_newest_first_up_to_the_limit(queue: JobQueue) -> None:
    uuid = add_dataset(queue.store)
    first = queue.create_job(uuid, "data_validation")
    second = queue.create_job(uuid, "backup_creation")
    doc = dataset_with_jobs(queue.store, uuid)
    assert doc["uuid"] == uuid
    jobs = doc["jobs"]
    assert {j["job_id"] for j in jobs} == {first, second}
    assert jobs[0]["created_at"] >= jobs[1]["created_at"]
    assert [j["job_id"] for j in dataset_with_jobs(queue.store, uuid, limit=1)["jobs"]] == [jobs[0]["job_id"]]


def test_dataset_with_jobs_refuses_a_malformed_uuid_and_an_unknown_one(queue: JobQueue) -> None:
    with pytest.raises(InvalidInput, match="malformed dataset UUID"):
        dataset_with_jobs(queue.store, "not-a-uuid")
    with pytest.raises(NotFound):
        dataset_with_jobs(queue.store, new_uuid())


def test_list_and_count_datasets_filter_by_status_and_refuse_an_unknown_status(queue: JobQueue) -> None:
    done = [add_dataset(queue.store, DatasetStatus.DONE.value) for _ in range(3)]
    add_dataset(queue.store, DatasetStatus.CONVERSION_ERROR.value)
    assert sorted(d["uuid"] for d in list_datasets(queue.store, [DatasetStatus.DONE.value], limit=None)) == sorted(done)
    assert len(list_datasets(queue.store, [DatasetStatus.DONE.value], limit=2)) == 2
    assert count_datasets(queue.store, [DatasetStatus.DONE.value]) == 3
    assert count_datasets(queue.store) == 4
    for call in (lambda: list_datasets(queue.store, ["finished"]), lambda: count_datasets(queue.store, ["finished"])):
        with pytest.raises(InvalidInput, match="unknown dataset status 'finished'"):
            call()
