"""``store.ledger``, ``store.stats`` and ``store.tallies`` (parts the store owns) and the store's
capabilities, run on every backend (SQLite, mongomock, wire server)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from sccli.clock import utcnow
from sccli.settings import Settings
from sccli.store import open_store
from sccli.store.base import Store
from sccli.store.contract_ledger import LedgerContract
from sccli.store.contract_monitor import MonitorContract
from sccli.store.contract_tallies import TallyContract
from tests.conftest import StoreSpec, new_uuid
from tests.contract.test_store import job_doc

PARTS = {"ledger": LedgerContract, "stats": MonitorContract, "tallies": TallyContract}


@pytest.mark.parametrize("name", sorted(PARTS))
def test_each_part_is_one_object_of_its_contract_and_not_the_stores_surface(store: Store, name: str) -> None:
    part = getattr(store, name)
    assert isinstance(part, PARTS[name]) and not isinstance(store, PARTS[name])
    assert getattr(store, name) is part  # one object per store: what it learns (schema made, server features) stays
    method = next(iter(PARTS[name].__abstractmethods__))
    assert not hasattr(store, method), f"store.{method} is still on the core contract"


def test_ledger_headers_and_entries_round_trip(store: Store) -> None:
    now = utcnow().replace(microsecond=0)
    ledger = store.ledger
    ledger.insert_migration({"migration_id": "mig-old", "kind": "migration", "status": "completed", "started_at": now})
    later = now + timedelta(seconds=1)
    ledger.insert_migration({"migration_id": "mig-new", "kind": "migration", "status": "running", "started_at": later})
    assert ledger.update_migration("mig-new", {"status": "completed"}) and not ledger.update_migration("nope", {})
    assert [h["migration_id"] for h in ledger.list_migrations()] == ["mig-new", "mig-old"]
    assert ledger.get_migration("mig-new")["status"] == "completed"  # type: ignore[index]
    jobs = [job_doc(migration_id="mig-new", active_key=f"k{i}") for i in range(2)]
    entries = [
        {"entry_id": f"mig-new:{j['dataset_uuid']}", "migration_id": "mig-new", "kind": "entry",
         "dataset_uuid": j["dataset_uuid"], "job_id": j["job_id"], "status_before": "done", "created_at": now}
        for j in jobs
    ]
    assert ledger.insert_migration_batch(jobs, entries, []) == []
    assert ledger.job_states([j["job_id"] for j in jobs] + ["missing"]) == {
        j["job_id"]: {"status": "pending", "attempts": 0} for j in jobs
    }
    assert ledger.update_migration_entries([entries[0]["entry_id"]], {"rolled_back": True}) == 1
    pending = ledger.find_migration_entries("mig-new", pending_only=True)
    assert [e["entry_id"] for e in pending] == [entries[1]["entry_id"]]
    assert "migrations" in ledger.expected_index_names() and store.missing_indexes() == {}


def test_stats_backlog_and_cleanup_batches(store: Store) -> None:
    now = utcnow()
    store.insert_job(job_doc(job_type="google_sync"))
    store.insert_job(job_doc(job_type="google_sync", run_after=now + timedelta(hours=1)))
    old, new = now - timedelta(days=3), now - timedelta(days=2)
    done = [job_doc(status="completed", completed_at=at, started_at=at) for at in (new, old)]
    for doc in done:
        store.insert_job(doc)
    (backlog,) = store.stats.pending_backlog(now)
    assert (backlog["job_type"], backlog["pending"], backlog["ready"]) == ("google_sync", 2, 1)
    counts = {(r["status"], r["job_type"]): r["count"] for r in store.stats.job_status_type_counts()}
    assert counts == {("pending", "google_sync"): 2, ("completed", "dataset_conversion"): 2}
    assert store.stats.finished_job_ids("completed", now, 10) == [done[1]["job_id"], done[0]["job_id"]]
    assert store.stats.finished_job_ids("completed", now, 1) == [done[1]["job_id"]]


def test_tallies_store_a_day_only_at_the_version_read(store: Store, store_spec: StoreSpec) -> None:
    if store_spec.kind == "wire":
        pytest.skip("the wire test server turns an integer _id (the day number) into an ObjectId")
    tallies = store.tallies
    assert tallies.first_completed_at() is None and tallies.tally_days([100]) == {}
    assert tallies.save_tally_day(100, 0, {"by_type": {}})
    assert tallies.tally_days([100])[100]["figures"] is not None
    tallies.bump_tally_days([100])
    day = tallies.tally_days([100])[100]
    assert day["figures"] is None and day["version"] >= 1
    assert not tallies.save_tally_day(100, 0, {"by_type": {}})  # a write changed the day since version 0
    assert tallies.save_tally_day(100, day["version"], {"by_type": {}})
    at = utcnow().replace(microsecond=0) - timedelta(days=1)
    store.insert_job(job_doc(status="completed", completed_at=at, started_at=at))
    assert tallies.first_completed_at() == at


def test_tune_for_service_sets_the_service_timeout_or_cache(store_spec: StoreSpec) -> None:
    store = store_spec.open()
    try:
        store.tune_for_service(Settings(store_timeout_seconds=7.5))
        if store_spec.kind == "sqlite":
            size = store.conn.execute("PRAGMA cache_size").fetchone()[0]  # type: ignore[attr-defined]
            assert size == -store.service_cache_kib  # type: ignore[attr-defined]
        else:
            assert store.timeout_ms == 7500  # type: ignore[attr-defined]
    finally:
        store.close()


def test_missing_file_names_only_an_absent_sqlite_file(store: Store, tmp_path: Path) -> None:
    assert store.missing_file() is None  # the fixture's store exists (or is a server)
    absent = tmp_path / f"{new_uuid()}.db"
    assert open_store(f"sqlite:///{absent}").missing_file() == str(absent)
    assert not absent.exists()  # asking did not create it
