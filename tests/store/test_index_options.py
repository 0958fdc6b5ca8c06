"""An existing index is adopted only when its options are what the store relies on: a
non-unique ``job_id_1`` or ``active_key_1`` left by someone else is reported loudly (schema
warnings, ``sc doctor`` and ``sc migrate validate`` fail with the command that fixes it), and
duplicates are still refused. ``sc doctor`` judges indexes by key pattern, as the store does.
Events are de-duplicated by a unique ``event_id`` index."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from sccli.doctor import FAIL, OK, diagnose
from sccli.errors import Conflict
from sccli.migration import JobMigration
from sccli.queue import JobQueue
from sccli.settings import Settings
from sccli.store.mongo import MongoStore
from tests.conftest import StoreSpec, make_spec


def _prepared(kind: str, tmp_path: Any, make: dict[str, list[tuple[str, dict[str, Any]]]]) -> Iterator[StoreSpec]:
    spec = make_spec(kind, tmp_path)
    store = spec.open()
    assert isinstance(store, MongoStore)
    db = store.client[spec.db_name]
    for collection, indexes in make.items():
        for field, options in indexes:
            name = options.pop("name", f"{field}_1")
            db[collection].create_index([(field, 1)], name=name, **options)
    store.close()
    yield spec
    if spec.kind == "wire":
        cleanup = spec.open()
        cleanup.client.drop_database(spec.db_name)  # type: ignore[attr-defined]
        cleanup.close()


@pytest.fixture(params=["mongomock", "wire"])
def loose(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[StoreSpec]:
    """A database whose ``job_id`` and ``active_key`` indexes exist, but without ``unique``."""
    yield from _prepared(request.param, tmp_path, {"jobs": [("job_id", {}), ("active_key", {})]})


@pytest.fixture(params=["mongomock", "wire"])
def portal(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[StoreSpec]:
    """The portal's own indexes under its names, with the options the store needs."""
    indexes = {"jobs": [("job_id", {"unique": True})], "visstoredatas": [("uuid", {})]}
    yield from _prepared(request.param, tmp_path, indexes)


def _schema(store: MongoStore) -> Any:
    return next(c for c in diagnose(lambda _settings: store, Settings) if c.name == "schema")


def test_a_non_unique_job_id_index_is_reported_with_its_fix(loose: StoreSpec) -> None:
    store = loose.open()
    assert isinstance(store, MongoStore)
    store.ensure_schema()
    warned = "\n".join(store.schema_warnings)
    assert "job_id_1" in warned and "active_key_1" in warned and "dropIndex" in warned
    assert "job_id_unique" in store.missing_indexes()["jobs"] and "active_key_unique" in store.missing_indexes()["jobs"]
    check = _schema(store)
    assert check.level == FAIL and "job_id_1" in check.detail and "active_key_1" in check.detail
    assert check.fix and 'dropIndex("job_id_1")' in check.fix and '"unique": true' in check.fix
    assert f'getSiblingDB("{loose.db_name}")' in check.fix
    findings = JobMigration(store).validate()
    assert {f.check for f in findings} >= {"index_options"}
    assert any("job_id_1" in f.message and "dropIndex" in f.message for f in findings)


def test_duplicates_are_still_refused_without_the_unique_index(loose: StoreSpec) -> None:
    store = loose.open()
    queue = JobQueue(store, actor="cli:test@host")
    dataset = str(uuid.uuid4())
    job_id = queue.create_job(dataset, "data_validation", allow_missing_dataset=True)
    with pytest.raises(Conflict):  # the one-active-job rule
        queue.create_job(dataset, "data_validation", allow_missing_dataset=True)
    twin = {k: v for k, v in queue.require_job(job_id).items() if k != "active_key"}
    with pytest.raises(Conflict):  # de-duplication by job_id
        store.insert_job(twin)
    assert len(store.find_jobs(__import__("sccli.store.base", fromlist=["JobQuery"]).JobQuery())) == 1


def test_doctor_judges_indexes_by_key_pattern_as_the_store_does(portal: StoreSpec) -> None:
    store = portal.open()
    assert isinstance(store, MongoStore)
    store.ensure_schema()
    assert store.schema_warnings == [] and store.missing_indexes() == {}
    check = _schema(store)
    assert check.level == OK, check.detail  # the adopted uuid_1 and job_id_1 are not "missing"
    assert not [f for f in JobMigration(store).validate() if f.check in ("missing_index", "index_options")]


@pytest.mark.parametrize("kind", ["mongomock", "wire"])
def test_events_are_deduplicated_by_a_unique_index(kind: str, tmp_path: Any) -> None:
    older = {"job_events": [("event_id", {"sparse": True, "name": "event_id"})]}  # an older sccli's own index
    for spec in _prepared(kind, tmp_path, older):
        store = spec.open()
        assert isinstance(store, MongoStore)
        store.ensure_schema()
        info = store.coll("events").index_information()
        assert [name for name, i in info.items() if i.get("unique") and i["key"] == [("event_id", 1)]], info
        assert store.schema_warnings == [] and store.missing_indexes() == {}
        event = {"job_id": "j1", "entity": "job", "event_id": "move-1:0", "reason": "replayed", "at": store.now()}
        store.insert_event(dict(event))
        store.insert_event(dict(event))
        assert len(store.find_events("j1")) == 1
