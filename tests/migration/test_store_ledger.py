"""The store's migration-ledger section, the same on every backend."""

from __future__ import annotations

from typing import Any

import pytest

from sccli.clock import utcnow
from sccli.errors import Conflict
from sccli.queue import JobQueue
from sccli.store.base import JobChange, JobQuery, Store

from .conftest import dataset_doc


def _built(store: Store, uuid: str, job_type: str = "dataset_conversion") -> dict:
    return JobQueue(store, actor="t").build_job(uuid, job_type, {}, None, None, None, migration_id="mig-x")


def _entry(job: dict) -> dict:
    uuid = job["dataset_uuid"]
    return {
        "entry_id": f"mig-x:{uuid}", "kind": "entry", "migration_id": "mig-x", "dataset_uuid": uuid,
        "job_id": job["job_id"], "status_before": "converting",
    }


def test_dataset_pages_walk_every_dataset_once_in_uuid_order(store: Store) -> None:
    docs = [dataset_doc(i, "done" if i % 3 else "zipping") for i in range(25)]
    store.ledger.insert_datasets(docs)
    seen, after = [], None
    while page := store.ledger.find_datasets_page(["zipping"], after, 4):
        seen.extend(d["uuid"] for d in page)
        after = page[-1]["uuid"]
    assert seen == sorted(d["uuid"] for d in docs if d["status"] == "zipping")
    assert store.ledger.count_datasets_by_status() == {"done": 16, "zipping": 9}
    with pytest.raises(Conflict):
        store.ledger.insert_datasets([docs[0]])


def test_batch_leaves_out_jobs_whose_active_key_is_held(store: Store) -> None:
    uuids = [dataset_doc(i, "converting")["uuid"] for i in range(3)]
    held = _built(store, uuids[1])
    store.insert_job(held)
    jobs = [_built(store, u) for u in uuids]
    events = [
        {
            "job_id": j["job_id"], "entity": "job", "from": None, "to": "pending", "at": utcnow(),
            "actor": "migration:mig-x",
        }
        for j in jobs
    ]
    left_out = store.ledger.insert_migration_batch(jobs, [_entry(j) for j in jobs], events)
    assert left_out == [jobs[1]["job_id"]]
    assert store.get_job(jobs[1]["job_id"]) is None and store.get_job(jobs[0]["job_id"]) is not None
    assert {e["job_id"] for e in store.ledger.find_migration_entries("mig-x")} == {jobs[0]["job_id"], jobs[2]["job_id"]}
    assert store.find_events(jobs[1]["job_id"]) == [] and len(store.find_events(jobs[0]["job_id"])) == 1
    found = {j["job_id"] for j in store.ledger.find_active_jobs(uuids)}
    assert found == {jobs[0]["job_id"], held["job_id"], jobs[2]["job_id"]}


def test_only_unstarted_jobs_are_deleted(store: Store) -> None:
    jobs = [_built(store, dataset_doc(i, "converting")["uuid"]) for i in range(4)]
    for job in jobs:
        store.insert_job(job)
    store.update_job(
        jobs[1]["job_id"], {"status": "pending"}, JobChange(set={"status": "running"}, inc={"attempts": 1})
    )
    # failed once, waiting to retry
    store.update_job(jobs[2]["job_id"], {"status": "pending"}, JobChange(inc={"attempts": 1}))
    deleted = store.ledger.delete_unstarted_jobs([j["job_id"] for j in jobs] + ["no-such-job"])
    assert sorted(deleted) == sorted([jobs[0]["job_id"], jobs[3]["job_id"]])
    assert store.count_jobs(JobQuery()) == 2


def test_ledger_headers_and_entries(store: Store) -> None:
    now = utcnow()
    header = {"migration_id": "mig-a", "kind": "migration", "status": "running", "started_at": now}
    store.ledger.insert_migration(header)
    assert store.ledger.update_migration("mig-a", {"status": "completed", "finished_at": now})
    assert not store.ledger.update_migration("mig-b", {"status": "x"})
    header = store.ledger.get_migration("mig-a")
    assert header is not None and header["status"] == "completed" and header["finished_at"] == now
    assert [h["migration_id"] for h in store.ledger.list_migrations()] == ["mig-a"]
    job = _built(store, dataset_doc(0, "converting")["uuid"])
    store.ledger.insert_migration_batch([job], [_entry(job)], [])
    entry_id = _entry(job)["entry_id"]
    assert store.ledger.update_migration_entries([entry_id], {"rolled_back": True, "rolled_back_at": now}) == 1
    assert store.ledger.find_migration_entries("mig-x", pending_only=True) == []
    (entry,) = store.ledger.find_migration_entries(dataset_uuid=job["dataset_uuid"])
    assert entry["rolled_back"] is True and entry["rolled_back_at"] == now and entry["status_before"] == "converting"


def test_expected_indexes_exist_on_a_fresh_store(store: Store) -> None:
    expected, actual = store.ledger.expected_index_names(), store.index_names()
    assert expected["jobs"] and expected["migrations"]
    assert {key: sorted(set(names) - set(actual[key])) for key, names in expected.items()} == {
        key: [] for key in expected
    }


def test_mongo_unique_index_refusal_inside_a_batch_is_reported(tmp_path: object) -> None:
    """A duplicate that slips past the up-front check (another writer) is left out, not fatal."""
    from sccli.store import open_store

    store = open_store("mongomock://ledger-dup", "ledger_dup")
    uuid = dataset_doc(0, "converting")["uuid"]
    first, second = _built(store, uuid), _built(store, uuid)
    assert store.ledger._insert_jobs([dict(first), dict(second)]) == {second["job_id"]}  # type: ignore[attr-defined]
    store.client.drop_database("ledger_dup")  # type: ignore[attr-defined]


def test_mongo_ledger_entries_are_written_before_the_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure (or crash) after the entries and before the jobs leaves no job the ledger does
    not know; rollback then finds the entries' jobs already gone."""
    from pymongo.errors import AutoReconnect

    from sccli.errors import StoreUnavailable
    from sccli.migration.rollback import Rollback
    from sccli.store import open_store

    store = open_store("mongomock://ledger-order", "ledger_order")
    try:
        jobs = [_built(store, dataset_doc(i, "converting")["uuid"]) for i in range(3)]
        entries = [_entry(j) for j in jobs]
        real_coll = store.ledger.coll  # type: ignore[attr-defined]

        class FailingJobs:
            """The jobs collection, losing the connection on the batch insert."""

            def __init__(self, coll: object) -> None:
                self.coll = coll

            def __getattr__(self, name: str) -> object:
                return getattr(self.coll, name)

            def insert_many(self, *args: object, **kwargs: object) -> None:
                entries_now = store.ledger.find_migration_entries("mig-x")
                assert len(entries_now) == 3, "jobs written before their ledger entries"
                raise AutoReconnect("connection lost after the ledger write")

        def failing(key: str) -> object:
            return FailingJobs(real_coll(key)) if key == "jobs" else real_coll(key)

        monkeypatch.setattr(store.ledger, "coll", failing)
        with pytest.raises(StoreUnavailable):
            store.ledger.insert_migration_batch(jobs, entries, [])
        monkeypatch.undo()
        assert {e["job_id"] for e in store.ledger.find_migration_entries("mig-x")} == {j["job_id"] for j in jobs}
        assert store.count_jobs(JobQuery()) == 0
        header = {"migration_id": "mig-x", "kind": "migration", "status": "failed", "started_at": utcnow()}
        store.ledger.insert_migration(header)
        report = Rollback(store).execute(migration_id="mig-x")
        assert (report.already_gone, report.removed, report.not_undone) == (3, 0, [])
        assert store.ledger.find_migration_entries("mig-x", pending_only=True) == []
    finally:
        store.client.drop_database("ledger_order")  # type: ignore[attr-defined]


def test_refused_jobs_leave_no_ledger_entry_or_event(
    store: Store, store_spec: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job the unique active_key refuses inside the write (another writer won the race after
    the up-front check) takes its entry and creation event with it."""
    if store_spec.kind == "wire":
        pytest.skip("the wire test server does not enforce unique indexes (the up-front check covers it there)")
    uuids = [dataset_doc(i, "converting")["uuid"] for i in range(2)]
    jobs = [_built(store, u) for u in uuids]
    store.insert_job(_built(store, uuids[0]))  # the other writer's job
    if hasattr(store.ledger, "_held_keys"):  # a ledger that checks first (MongoDB): blind it, the index must refuse
        monkeypatch.setattr(store.ledger, "_held_keys", lambda keys: set())
    events = [
        {
            "job_id": j["job_id"], "entity": "job", "from": None, "to": "pending", "at": utcnow(),
            "actor": "migration:mig-x",
        }
        for j in jobs
    ]
    assert store.ledger.insert_migration_batch(jobs, [_entry(j) for j in jobs], events) == [jobs[0]["job_id"]]
    assert [e["job_id"] for e in store.ledger.find_migration_entries("mig-x")] == [jobs[1]["job_id"]]
    assert store.find_events(jobs[0]["job_id"]) == [] and len(store.find_events(jobs[1]["job_id"])) == 1
