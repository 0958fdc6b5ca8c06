"""The outbox handed from write to write (MongoDB; SQLite writes follow-ups in the transaction):
a batch of events alone waits on its job for the job's next transition instead of a pull of its
own, and a write that replaces the outbox never drops a batch its writer did not run."""

from __future__ import annotations

from typing import Any

import pytest

from sccli import queue as queue_module
from sccli.domain import JobStatus
from sccli.events import job_event
from sccli.followups import OutboxAcks, event_item, outbox_batch
from sccli.queue import JobQueue
from sccli.store.base import JobChange
from tests.conftest import add_dataset


@pytest.fixture
def mongo_queue(queue: JobQueue) -> JobQueue:
    if queue.store.atomic_followups:
        pytest.skip("follow-ups are written in the transition's transaction: no outbox")
    return queue


def _events(queue: JobQueue, job_id: str) -> list[str]:
    return sorted({e["event_id"]: e["reason"] for e in queue.job_events(job_id) if e.get("entity") == "job"}.values())


def test_a_creation_cut_short_gets_its_event_from_the_claim(mongo_queue: JobQueue, monkeypatch: Any) -> None:
    """The creator dies after the insert (its batch of events not run, and no sweeper looks at a
    deferred batch): the claim, the job's next write, runs it."""
    queue = mongo_queue
    monkeypatch.setattr(queue_module, "drain_outbox", lambda *a, **k: [])  # killed right after the insert
    job_id = queue.create_job(add_dataset(queue.store), "data_validation")
    monkeypatch.undo()
    assert _events(queue, job_id) == []
    assert [("at" in b) for b in queue.require_job(job_id)["outbox"]] == [False]  # the sweeper leaves it
    job = queue.claim_next("w1", ["data_validation"], host="h", pid=1)
    assert job is not None and job["job_id"] == job_id
    assert _events(queue, job_id) == ["claimed by w1", "created"]
    done = queue.complete(job_id, job["lease_token"], {}, claimed=job)
    assert done is not None and done["outbox"] == [] and queue.require_job(job_id)["outbox"] == []
    assert _events(queue, job_id) == ["claimed by w1", "created", "handler succeeded"]


def test_a_batch_added_behind_the_writers_copy_is_run_not_dropped(mongo_queue: JobQueue) -> None:
    """The completion replaces the outbox its claim left, fenced on it: a batch appended since (here
    by hand) fails the fence, so the write appends instead and runs every batch."""
    queue = mongo_queue
    job_id = queue.create_job(add_dataset(queue.store), "data_validation")
    job = queue.claim_next("w1", ["data_validation"], host="h", pid=1)
    assert job is not None
    stranger = job_event(job_id, JobStatus.RUNNING, JobStatus.RUNNING, at=queue.store.now(), actor="t", reason="note")
    batch = outbox_batch([event_item(stranger)], queue.store.now(), deferred=True)
    assert queue.store.update_job(job_id, {}, JobChange(push={"outbox": batch})) is not None
    done = queue.complete(job_id, job["lease_token"], {}, claimed=job)
    assert done is not None and done["status"] == JobStatus.COMPLETED.value
    assert "note" in _events(queue, job_id)
    assert queue.require_job(job_id)["outbox"] == []


def test_a_lost_lease_still_changes_nothing(mongo_queue: JobQueue) -> None:
    """The fenced write and its fallback both fail when the lease is gone."""
    queue = mongo_queue
    job_id = queue.create_job(add_dataset(queue.store), "data_validation")
    job = queue.claim_next("w1", ["data_validation"], host="h", pid=1)
    assert job is not None
    assert queue.release(job_id, job["lease_token"], reason="taken away") is not None
    assert queue.complete(job_id, job["lease_token"], {}, claimed=job) is None
    assert queue.require_job(job_id)["status"] == JobStatus.PENDING.value


def test_a_services_acks_wait_for_one_pull_and_replay_harmlessly(mongo_queue: JobQueue) -> None:
    """A service's completions leave their batch of events for one pull of many; the same batch
    replayed by a sweeper before that (the service died) writes no event twice."""
    queue = mongo_queue
    queue.lifecycle.acks = acks = OutboxAcks()
    ids = [queue.create_job(add_dataset(queue.store), "data_validation") for _ in range(2)]
    for _ in ids:
        job = queue.claim_next("w1", ["data_validation"], host="h", pid=1)
        assert job is not None
        assert queue.complete(job["job_id"], job["lease_token"], {}, claimed=job) is not None
    assert sorted(acks.jobs) == sorted(ids)
    left = queue.require_job(ids[0])
    assert [b.get("ack") for b in left["outbox"]] == [acks.token] and "at" in left["outbox"][0]
    queue.finish_followups(left)  # what a sweeper does with it once it is stale
    assert _events(queue, ids[0]) == ["claimed by w1", "created", "handler succeeded"]
    acks.flush(queue.store)
    assert acks.jobs == [] and all(queue.require_job(i)["outbox"] == [] for i in ids)


def test_a_dataset_move_is_never_left_for_a_later_pull(mongo_queue: JobQueue) -> None:
    """A replayed move could move a dataset twice: a batch holding one is pulled at once."""
    queue = mongo_queue
    queue.lifecycle.acks = acks = OutboxAcks()
    job_id = queue.create_job(add_dataset(queue.store), "google_sync", {"data_url": "folder"})
    job = queue.claim_next("w1", ["google_sync"], host="h", pid=1)
    assert job is not None
    assert queue.complete(job_id, job["lease_token"], {}, claimed=job) is not None
    assert acks.jobs == [] and queue.require_job(job_id)["outbox"] == []


def test_a_refused_claim_move_replayed_later_stays_refused(mongo_queue: JobQueue) -> None:
    """Found by the queue's state machine: a claim's move to ``unzipping`` refused (the dataset was
    ``done``), the dataset then set to ``submitted`` by hand, the job released from a fresh read.
    The release replays the claim's batch (its copy cannot tell it ran): the move, decided once
    (refused), must not be taken now, with its events' ids already spent."""
    from sccli.datasets import set_dataset_status

    queue = mongo_queue
    dataset = add_dataset(queue.store, status="done")
    job_id = queue.create_job(dataset, "file_extraction")
    job = queue.claim_next("w1", ["file_extraction"], host="h", pid=1)
    assert job is not None and queue.store.get_dataset(dataset)["status"] == "done"  # type: ignore[index]
    set_dataset_status(queue.store, dataset, "submitted", reason="by hand", actor="cli:admin@h", force=True)
    assert queue.release(job_id, job["lease_token"], reason="drain") is not None
    assert queue.store.get_dataset(dataset)["status"] == "submitted"  # type: ignore[index]
    moves = [e for e in queue.job_events(job_id) if e.get("entity") == "dataset" and not e.get("refused")]
    assert moves == []
