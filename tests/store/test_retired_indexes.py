"""The ``jobs`` indexes are the ones the query-shape registry needs: an index that is the only
seeking index of no registered shape is not declared, and the one an older sccli made
(``status_job_type``) is dropped when the store creates its indexes, so ``sc doctor`` and
``sc migrate validate`` judge the new set and every write touches one key fewer."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from sccli.doctor import OK, diagnose
from sccli.migration import JobMigration
from sccli.queue import JobQueue
from sccli.settings import Settings
from sccli.store.mongo import MongoStore
from sccli.store.mongo_support import INDEXES, RETIRED_INDEXES
from sccli.store.query_shapes import SHAPES, QueryShape, seeks, unneeded
from tests.conftest import make_spec


def _specs(key: str) -> list[tuple[str, list[str], bool]]:
    return [(name, fields, bool(options.get("unique"))) for name, fields, options in INDEXES[key]]


def test_every_declared_index_is_the_only_seeking_index_of_some_shape() -> None:
    for key in INDEXES:
        shapes = [s for s in SHAPES if s.collection == key]
        assert unneeded(shapes, _specs(key)) == [], key


def test_the_rule_finds_an_index_no_shape_needs() -> None:
    jobs = _specs("jobs")
    assert unneeded(SHAPES, [*jobs, ("status_job_type", ["status", "job_type"], False)]) == ["status_job_type"]
    assert unneeded(SHAPES, [*jobs, ("progress", ["progress_percentage"], False)]) == ["progress"]
    typed_claim = QueryShape(
        "jobs", frozenset({"status", "job_type"}), ("priority", "created_at"), frozenset({"run_after"})
    )
    assert not seeks(typed_claim, ["status", "priority", "created_at"])  # would read other types' keys
    assert seeks(typed_claim, ["status", "job_type", "priority", "created_at"])
    assert seeks(QueryShape("jobs", frozenset({"job_id", "status"})), ["job_id"], unique=True)


def test_retired_indexes_are_declared_nowhere() -> None:
    for key, retired in RETIRED_INDEXES.items():
        declared = {name for name, _, _ in INDEXES[key]} | {tuple(f) for _, f, _ in INDEXES[key]}
        for name, fields in retired:
            assert name not in declared and tuple(fields) not in declared


@pytest.mark.parametrize("kind", ["mongomock", "wire"])
def test_an_older_sccli_index_is_dropped_and_doctor_is_content(kind: str, tmp_path: Any) -> None:
    spec = make_spec(kind, tmp_path)
    store = spec.open()
    assert isinstance(store, MongoStore)
    jobs, events = store.coll("jobs"), store.coll("events")
    jobs.create_index([("status", 1), ("job_type", 1)], name="status_job_type")  # what an older sccli made
    events.create_index([("status", 1), ("job_type", 1)], name="status_job_type")  # the name elsewhere: not ours
    store.close()
    try:
        store = spec.open()
        assert isinstance(store, MongoStore)
        JobQueue(store, actor="cli:test@host").create_job(
            str(uuid.uuid4()), "data_validation", allow_missing_dataset=True
        )
        store.ensure_schema()
        assert "status_job_type" not in store.coll("jobs").index_information()
        assert "status_job_type" in store.coll("events").index_information()
        assert store.missing_indexes() == {} and store.schema_warnings == []
        check = next(c for c in diagnose(lambda _settings: store, Settings) if c.name == "schema")
        assert check.level == OK, check.detail
        assert not [f for f in JobMigration(store).validate() if f.check in ("missing_index", "index_options")]
    finally:
        if kind == "wire":
            store.client.drop_database(spec.db_name)
        store.close()
