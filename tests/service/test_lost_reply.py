"""A completion whose reply is lost: the write landed, then the connection dropped before the
answer came back. The service's retry must recognise the write as its own (same lease, the
target state reached): the outcome counts as recorded, its follow-ups (the dataset move, the
chained job) run at once, and nothing says "lease lost"."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from sccli.queue import JobQueue
from sccli.service.config import ServiceOptions, validate_service_settings
from sccli.service.supervisor import Supervisor
from sccli.settings import load_settings
from sccli.store.base import JobQuery
from sccli.store.mongo import MongoStore
from tests.conftest import add_dataset, make_spec
from tests.service.chain_plugins import CHAIN_HANDLERS
from tests.service.conftest import write_settings


class ReplyLost:
    """A jobs collection whose first write matching ``target`` lands, then fails like a dropped
    connection (the reply never arrives)."""

    def __init__(self, inner: Any, target: str) -> None:
        self._inner, self._target, self.dropped = inner, target, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def find_one_and_update(self, filt: Any, update: Any, *args: Any, **kwargs: Any) -> Any:
        from pymongo.errors import AutoReconnect

        doc = self._inner.find_one_and_update(filt, update, *args, **kwargs)
        if doc is not None and not self.dropped and (update.get("$set") or {}).get("status") == self._target:
            self.dropped += 1
            raise AutoReconnect("connection closed by peer (after the write landed)")
        return doc


@pytest.mark.parametrize("kind", ["mongomock", "wire"])
@pytest.mark.parametrize("target", ["completed", "failed"])
def test_a_lost_reply_is_recognised_as_the_services_own_write(kind: str, target: str, tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    spec = make_spec(kind, tmp_path)
    handlers = dict(CHAIN_HANDLERS)
    if target == "failed":
        handlers["file_upload"] = "tests.service.plugins:permanent"
    settings = load_settings(write_settings(tmp_path, stale_after_seconds=3600, handlers=handlers))
    store = spec.open()
    assert isinstance(store, MongoStore)
    dataset = add_dataset(store)
    queue = JobQueue(store, actor="cli:test@host", retry_base_seconds=0, retry_max_seconds=0,
                     extra_types=settings.handlers)
    first = queue.create_job(dataset, "file_upload", {"files": ["/nowhere/upload.zip"]}, max_attempts=1)
    lossy = ReplyLost(store.coll("jobs"), target)
    real_coll = store.coll
    store.coll = lambda key: lossy if key == "jobs" else real_coll(key)  # type: ignore[method-assign]
    supervisor = Supervisor(queue, settings, validate_service_settings(settings), ServiceOptions(until_idle=True))
    with caplog.at_level(logging.INFO, logger="sccli"):
        assert supervisor.run() == 0
    assert lossy.dropped == 1  # the reply really was lost once
    said = "\n".join(r.getMessage() for r in caplog.records)
    assert "lease lost" not in said and "not recorded" not in said, said
    jobs = store.find_jobs(JobQuery(), limit=None)
    assert not [j for j in jobs if j.get("outbox")]  # every follow-up ran at once, none waits for the sweeper
    by_id = {j["job_id"]: j for j in jobs}
    assert by_id[first]["status"] == target and by_id[first]["attempts"] == 1
    if target == "completed":
        assert sorted(j["job_type"] for j in jobs) == ["dataset_conversion", "file_extraction", "file_upload"]
        assert {j["status"] for j in jobs} == {"completed"}
        assert store.get_dataset(dataset)["status"] == "done"  # type: ignore[index]
    else:
        assert store.get_dataset(dataset)["status"] == "failed"  # type: ignore[index]
    store.close()


@pytest.mark.parametrize("outcome", ["release", "fail"])
def test_only_the_lease_holders_own_outcome_is_recognised(queue: JobQueue, store: Any, outcome: str) -> None:
    """A write of the holder that landed is recognised on its retry; after a sweeper re-queued
    the job (clearing the lease) the same retry is refused: the lease is really lost."""
    from datetime import timedelta

    from sccli.service.running import record_once

    def write(q: JobQueue, job_id: str, token: str) -> Any:
        return q.release(job_id, token) if outcome == "release" else q.fail(job_id, token, "boom")

    dataset = add_dataset(store)
    job_id = queue.create_job(dataset, "data_validation")
    job = queue.claim_next("w1")
    assert job is not None
    token = job["lease_token"]
    assert write(queue, job_id, token) is not None  # the first try landed (its reply was lost)
    again = record_once(queue, lambda q: write(q, job_id, token), job_id, token, outcome)
    assert again is not None and again["status"] == "pending"  # the retry knows it as its own
    claimed = queue.claim_next("w2")
    assert claimed is not None and claimed["lease_token"] != token
    store.update_job(job_id, {"status": "running"}, __import__("sccli.store.base", fromlist=["JobChange"]).JobChange(
        set={"heartbeat_at": store.now() - timedelta(hours=1)}))
    assert [j["job_id"] for j in queue.requeue_stale(60)] == [job_id]  # a sweeper's recovery clears the lease
    stale = claimed["lease_token"]
    assert record_once(queue, lambda q: write(q, job_id, stale), job_id, stale, outcome) is None
