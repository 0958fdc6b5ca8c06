"""First contact with the portal's database: its own indexes under other names, duplicate and
missing uuids in visstoredatas, a first connection that fails, a user who may not create indexes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from sccli.errors import StoreUnavailable
from sccli.queue import JobQueue
from sccli.store import open_store
from sccli.store.mongo import MongoStore
from sccli.store.mongo_support import INDEXES, index_keys
from tests.conftest import StoreSpec, make_spec


@pytest.fixture(params=["mongomock", "wire"])
def portal(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[StoreSpec]:
    """A database as the portal left it, before sccli ever opened it."""
    spec = make_spec(request.param, tmp_path)
    store = spec.open()
    assert isinstance(store, MongoStore)
    db = store.client[spec.db_name]
    db.jobs.create_index([("job_id", 1)], name="job_id_1", unique=True)
    db.jobs.create_index([("status", 1)], name="status_1")
    db.visstoredatas.create_index([("uuid", 1)], name="uuid_1")
    twin = str(uuid.uuid4())
    db.visstoredatas.insert_many([
        {"uuid": twin, "name": "first copy", "status": "submitted"},
        {"uuid": twin, "name": "second copy", "status": "done"},
        {"name": "no uuid at all", "status": "conversion queued"},
        {"uuid": str(uuid.uuid4()), "name": "ordinary", "status": "conversion queued", "sensor": "TIFF"},
    ])
    # A job written by the portal itself: no run_after, attempts or active_key.
    db.jobs.insert_one(
        {
            "job_id": str(uuid.uuid4()), "dataset_uuid": twin, "job_type": "data_validation", "status": "pending",
            "priority": 2, "parameters": {},
        }
    )
    store.close()
    yield spec
    if spec.kind == "wire":
        cleanup = spec.open()
        cleanup.client.drop_database(spec.db_name)  # type: ignore[attr-defined]
        cleanup.close()


def _index_keys(store: MongoStore, key: str) -> list[tuple[str, ...]]:
    return [index_keys(info) for info in store.coll(key).index_information().values()]


def test_first_contact_adopts_the_portals_indexes_and_adds_no_unique_one(portal: StoreSpec) -> None:
    store = portal.open()
    assert isinstance(store, MongoStore)
    store.ensure_schema()
    jobs = store.coll("jobs").index_information()
    assert "job_id_unique" not in jobs and jobs["job_id_1"].get("unique")  # adopted, not duplicated
    keys = _index_keys(store, "jobs")
    assert len(keys) == len(set(keys)), keys  # no two indexes on the same keys
    datasets = store.coll("datasets").index_information()
    assert "uuid" not in datasets and not any(info.get("unique") for name, info in datasets.items() if name != "_id_")
    assert store.missing_indexes() == {}
    assert {tuple(f) for _, f, _ in INDEXES["jobs"]} <= set(keys)


def test_every_command_works_on_the_portals_data(portal: StoreSpec) -> None:
    from sccli.explain import explain_job
    from sccli.migration import JobMigration
    from sccli.monitor import JobMonitor

    store = portal.open()
    queue = JobQueue(store, actor="cli:test@host")
    ordinary = next(d for d in store.find_datasets() if d.get("name") == "ordinary")
    legacy = queue.claim_next("w1", types=["data_validation"])  # the portal's own job is claimable
    assert legacy is not None and legacy["attempts"] == 1 and legacy["status"] == "running"
    assert explain_job(store, legacy)
    job_id = queue.create_job(ordinary["uuid"], "dataset_conversion")
    assert explain_job(store, queue.require_job(job_id))
    overview = JobMonitor(store).get_queue_overview()
    assert overview["health_status"]["overall"] != "unknown"
    assert overview["queue_stats"]["total_jobs"] == 2
    JobMigration(store).validate()
    assert store.ledger.count_datasets_by_status()["conversion queued"] == 2
    assert len(store.find_datasets()) == 4  # nothing added, nothing merged


def test_a_first_connection_that_fails_ends_with_the_indexes(
    portal: StoreSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pymongo.errors import AutoReconnect

    import sccli.store.mongo as mongo_module

    store = portal.open()
    real = mongo_module.create_indexes
    calls = {"n": 0}

    def flaky(collection: Any, key: str) -> list[str]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise AutoReconnect("connection refused (mongod still starting)")
        return real(collection, key)

    monkeypatch.setattr(mongo_module, "create_indexes", flaky)
    with pytest.raises(StoreUnavailable):
        store.get_job("anything")
    assert store.get_job("anything") is None  # the next call creates the schema, then reads
    assert store.missing_indexes() == {}


def test_a_user_who_may_not_create_indexes_still_reads(
    portal: StoreSpec, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from pymongo.errors import OperationFailure

    import sccli.store.mongo_support as support

    store = portal.open()
    real_create = support.create_indexes

    def read_only(collection: Any, key: str) -> list[str]:
        original = collection.create_index

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise OperationFailure("not authorized on db to execute command createIndexes", code=13)

        collection.create_index = refuse
        try:
            return real_create(collection, key)
        finally:
            collection.create_index = original

    monkeypatch.setattr("sccli.store.mongo.create_indexes", read_only)
    with caplog.at_level("WARNING", logger="sccli.store"):
        assert store.find_jobs(__import__("sccli.store.base", fromlist=["JobQuery"]).JobQuery(), limit=5) is not None
        store.list_workers()
    warnings = [r.getMessage() for r in caplog.records if "not allowed to create indexes" in r.getMessage()]
    assert warnings and len(set(warnings)) == len(warnings)  # one warning per collection, once
    assert store.schema_warnings


def test_open_store_resolves_the_portals_database_name_from_the_url(portal: StoreSpec) -> None:
    if portal.kind != "wire":
        pytest.skip("needs a URL with a database path")
    base = portal.url.split("?")[0].rstrip("/")
    store = open_store(f"{base}/{portal.db_name}", None)
    assert isinstance(store, MongoStore)
    assert len(store.find_datasets()) == 4
