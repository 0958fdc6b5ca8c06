"""The store contract, run on every backend (SQLite, mongomock, wire-protocol MongoDB)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sccli.clock import utcnow
from sccli.errors import Conflict
from sccli.store.base import JobChange, JobQuery, Store
from tests.conftest import new_uuid


def job_doc(**fields: object) -> dict:
    now = utcnow()
    doc = {
        "job_id": new_uuid(), "dataset_uuid": new_uuid(), "job_type": "dataset_conversion", "status": "pending",
        "priority": 2, "parameters": {"a": 1}, "attempts": 0, "max_attempts": 2, "timeout_minutes": 5,
        "created_at": now, "updated_at": now, "run_after": now, "errors": [], "logs": [], "cancel_requested": False,
    }
    doc.update(fields)
    return doc


def test_insert_and_get_round_trips_fields_and_utc_times(store: Store) -> None:
    doc = job_doc(parameters={"nested": {"list": [1, "two"]}})
    store.insert_job(doc)
    got = store.get_job(doc["job_id"])
    assert got is not None
    assert "_id" not in got
    assert got["parameters"] == {"nested": {"list": [1, "two"]}}
    assert got["created_at"] == doc["created_at"]
    assert got["created_at"].tzinfo is not None and got["created_at"].utcoffset() == timedelta(0)
    assert store.get_job("no-such-job") is None


def test_active_key_is_unique_among_active_jobs(store: Store) -> None:
    store.insert_job(job_doc(active_key="k1"))
    with pytest.raises(Conflict):
        store.insert_job(job_doc(active_key="k1"))
    store.insert_job(job_doc())  # no key: duplicates allowed
    store.insert_job(job_doc())
    assert store.count_jobs(JobQuery()) == 3


def test_claim_returns_document_after_update_in_priority_then_age_order(store: Store) -> None:
    now = utcnow()
    low = job_doc(priority=3, created_at=now - timedelta(seconds=30))
    old_normal = job_doc(priority=2, created_at=now - timedelta(seconds=20))
    new_normal = job_doc(priority=2, created_at=now - timedelta(seconds=10))
    later_high = job_doc(priority=1, run_after=now + timedelta(hours=1))
    for d in (low, new_normal, old_normal, later_high):
        store.insert_job(d)
    order = []
    for _ in range(4):
        got = store.claim_job(utcnow(), {"worker_id": "w", "lease_token": "t"})
        if got is None:
            break
        assert got["status"] == "running" and got["attempts"] == 1 and got["worker_id"] == "w"
        order.append(got["job_id"])
    assert order == [old_normal["job_id"], new_normal["job_id"], low["job_id"]]


def test_claim_filters_by_type(store: Store) -> None:
    a = job_doc(job_type="google_sync")
    store.insert_job(a)
    assert store.claim_job(utcnow(), {}, types=["file_upload"]) is None
    assert store.claim_job(utcnow(), {}, types=[]) is None
    got = store.claim_job(utcnow(), {"lease_token": "x"}, types=["google_sync"])
    assert got is not None and got["job_id"] == a["job_id"] and got["lease_token"] == "x"


def test_update_is_conditional_on_expected_state(store: Store) -> None:
    doc = job_doc(status="running", lease_token="lease-1")
    store.insert_job(doc)
    change = JobChange(set={"status": "completed"}, unset=("active_key",))
    assert store.update_job(doc["job_id"], {"status": "running", "lease_token": "other"}, change) is None
    assert store.update_job("missing", {"status": "running"}, change) is None
    event = {"at": utcnow(), "actor": "a", "from": "running", "to": "completed"}
    after = store.update_job(
        doc["job_id"], {"status": ["running", "pending"], "lease_token": "lease-1"}, change, event=event
    )
    assert after is not None and after["status"] == "completed"
    assert store.get_job(doc["job_id"])["status"] == "completed"  # type: ignore[index]
    assert len(store.find_events(doc["job_id"])) == 1


def test_update_operators_set_unset_inc_push_and_log_cap(store: Store) -> None:
    doc = job_doc(active_key="k", attempts=2)
    store.insert_job(doc)
    change = JobChange(
        set={"error": "boom"}, unset=("active_key",), inc={"attempts": -1},
        push={"errors": {"attempt": 2, "error": "boom"}},
    )
    after = store.update_job(doc["job_id"], {"status": "pending"}, change)
    assert after is not None
    assert after["error"] == "boom" and "active_key" not in after and after["attempts"] == 1
    assert after["errors"] == [{"attempt": 2, "error": "boom"}]
    for i in range(105):
        store.update_jobs(JobQuery(job_ids=[doc["job_id"]]), JobChange(push={"logs": {"message": str(i)}}))
    logs = store.get_job(doc["job_id"])["logs"]  # type: ignore[index]
    assert len(logs) == 100 and logs[-1]["message"] == "104" and logs[0]["message"] == "5"


def test_queries_counts_and_grouping(store: Store) -> None:
    now = utcnow()
    ds = new_uuid()
    docs = [
        job_doc(status="completed", job_type="google_sync", dataset_uuid=ds, completed_at=now - timedelta(days=3)),
        job_doc(status="failed", job_type="google_sync", completed_at=now - timedelta(hours=1)),
        job_doc(status="pending", dataset_uuid=ds),
        job_doc(status="pending", priority=1),
    ]
    for d in docs:
        store.insert_job(d)
    assert store.count_jobs(JobQuery(status=["pending"])) == 2
    assert store.count_jobs(JobQuery(dataset_uuid=ds)) == 2
    assert store.count_jobs(JobQuery(completed_before=now - timedelta(days=1))) == 1
    assert store.count_jobs(JobQuery(priorities=[1])) == 1
    assert store.count_jobs(JobQuery(status=[])) == 0
    assert store.count_jobs_by("status", JobQuery()) == {"completed": 1, "failed": 1, "pending": 2}
    assert store.count_jobs_by("job_type", JobQuery(status=["completed", "failed"])) == {"google_sync": 2}
    listed = store.find_jobs(JobQuery(), sort=(("priority", 1), ("created_at", 1)), limit=2, offset=1)
    assert len(listed) == 2 and listed[0]["priority"] == 2
    assert store.delete_jobs(JobQuery(status=["completed", "failed"])) == 2
    assert store.count_jobs(JobQuery()) == 2


def test_events_are_ordered_and_deletable(store: Store) -> None:
    t0 = utcnow()
    for i in range(3):
        store.insert_event(
            {"job_id": "j1", "at": t0 + timedelta(seconds=i), "actor": "a", "from": str(i), "to": str(i + 1)}
        )
    store.insert_event({"job_id": "j2", "at": t0, "actor": "a"})
    assert [e["from"] for e in store.find_events("j1")] == ["0", "1", "2"]
    assert store.delete_events(["j1"]) == 3
    assert store.find_events("j1") == [] and len(store.find_events("j2")) == 1


def test_datasets_insert_get_find_and_conditional_update(store: Store) -> None:
    a, b = sorted([new_uuid(), new_uuid()])
    store.insert_dataset({"uuid": a, "status": "submitted", "name": "A"})
    store.insert_dataset({"uuid": b, "status": "done", "name": "B"})
    with pytest.raises(Conflict):
        store.insert_dataset({"uuid": a, "status": "submitted"})
    assert store.get_dataset(a)["name"] == "A"  # type: ignore[index]
    assert [d["uuid"] for d in store.find_datasets()] == [a, b]
    assert [d["uuid"] for d in store.find_datasets(statuses=["done"])] == [b]
    assert [d["uuid"] for d in store.find_datasets(uuids=[a])] == [a]
    assert store.update_dataset(a, "done", {"status": "sync queued"}) is False
    assert store.update_dataset(a, "submitted", {"status": "sync queued"}) is True
    assert store.get_dataset(a)["status"] == "sync queued"  # type: ignore[index]
    assert store.update_dataset(new_uuid(), None, {"status": "x"}) is False


def test_workers_upsert_list_delete(store: Store) -> None:
    now = utcnow()
    store.upsert_worker({"worker_id": "w1", "heartbeat_at": now - timedelta(seconds=5), "status": "running"})
    store.upsert_worker({"worker_id": "w2", "heartbeat_at": now, "status": "running"})
    store.upsert_worker({"worker_id": "w1", "heartbeat_at": now - timedelta(seconds=1), "status": "draining"})
    workers = store.list_workers()
    assert [w["worker_id"] for w in workers] == ["w2", "w1"]
    assert workers[1]["status"] == "draining"
    store.delete_worker("w1")
    assert [w["worker_id"] for w in store.list_workers()] == ["w2"]


def test_schema_is_idempotent_and_indexes_exist(store: Store) -> None:
    store.ensure_schema()
    store.ensure_schema()
    names = store.index_names()
    assert len(names["jobs"]) >= 6
    store.ping()


def test_find_jobs_with_fields_gives_only_those_fields(store: Store) -> None:
    """The fields of the claim's "anything ready?" read (SQLite takes them from their columns)
    and fields only the document holds: the same answer on every backend."""
    docs = [job_doc(priority=1, parameters={"p": 1}), job_doc(priority=2)]
    for d in docs:
        store.insert_job(d)
    sort = (("priority", 1),)
    columns = ("job_id", "status", "job_type", "dataset_uuid")
    plain = store.find_jobs(JobQuery(status=["pending"]), sort=sort, fields=columns)
    assert plain == [{k: d[k] for k in columns} for d in docs]
    assert store.find_jobs(JobQuery(), sort=sort, limit=1, fields=("job_id",)) == [{"job_id": docs[0]["job_id"]}]
    assert store.find_jobs(JobQuery(), sort=sort, fields=("job_id", "parameters")) == [
        {"job_id": d["job_id"], "parameters": d["parameters"]} for d in docs]
    assert store.find_jobs(JobQuery(status=["running"]), fields=("job_id",)) == []
