"""MongoDB side of the migration ledger: batched job writes and the ``job_migrations`` collection.

``store.ledger`` of :class:`~sccli.store.mongo.MongoStore` (the contract is
:class:`~sccli.store.contract_ledger.LedgerContract`). Batches use ``insert_many`` and ``$in``
queries; never ``bulk_write``, which mongomock 4.3 cannot run with pymongo 4.20.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sccli.domain import ACTIVE_STATUSES, JobStatus
from sccli.store.contract_ledger import LedgerContract
from sccli.store.mongo_support import create_indexes, expected_index_names, guard, normalize

_CHUNK = 1000
_ACTIVE = [s.value for s in ACTIVE_STATUSES]
_ACTIVE_FIELDS = {"_id": 0, "job_id": 1, "dataset_uuid": 1, "job_type": 1, "status": 1, "created_at": 1}

def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[start : start + _CHUNK] for start in range(0, len(items), _CHUNK)]


class MongoLedger(LedgerContract):
    """The migration ledger on MongoDB, handed the store's collection getter and display URL."""

    def __init__(self, coll: Callable[[str], Any], display_url: str) -> None:
        self.coll = coll
        self.display_url = display_url  # named in guard's StoreUnavailable message
        self._ledger_schema_ready = False

    def _ledger(self) -> Any:
        """The ledger collection, its indexes created on first use in this process."""
        coll = self.coll("migrations")
        if not self._ledger_schema_ready:
            create_indexes(coll, "migrations")
            self._ledger_schema_ready = True
        return coll

    @guard
    def expected_index_names(self) -> dict[str, list[str]]:
        self._ledger()
        return expected_index_names()

    # -- datasets ---------------------------------------------------------------------------
    @guard
    def count_datasets_by_status(self) -> dict[str, int]:
        pipeline = [{"$group": {"_id": "$status", "n": {"$sum": 1}}}]
        return {str(r["_id"]): int(r["n"]) for r in self.coll("datasets").aggregate(pipeline)}

    @guard
    def insert_datasets(self, docs: Sequence[dict[str, Any]]) -> None:
        from sccli.errors import Conflict

        uuids = [d["uuid"] for d in docs]
        for chunk in _chunks(uuids):
            existing = self.coll("datasets").find_one({"uuid": {"$in": list(chunk)}}, {"uuid": 1})
            if existing:
                raise Conflict(f"dataset {existing['uuid']} already exists")
        if docs:
            self.coll("datasets").insert_many([dict(d) for d in docs])

    @guard
    def find_datasets_page(
        self, statuses: Sequence[str] | None, after: str | None, limit: int, *, slim: bool = False
    ) -> list[dict[str, Any]]:
        filt: dict[str, Any] = {"uuid": {"$gt": after or ""}}
        if statuses is not None:
            filt["status"] = {"$in": list(statuses)}
        projection = {"_id": 0, "uuid": 1, "status": 1} if slim else None
        cursor = self.coll("datasets").find(filt, projection).sort([("uuid", 1)]).limit(int(limit))
        if slim:
            return [{"uuid": d["uuid"], "status": d.get("status")} for d in cursor]
        return [normalize(d) for d in cursor]

    @guard
    def dataset_statuses(self, uuids: Sequence[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for chunk in _chunks(list(uuids)):
            for d in self.coll("datasets").find({"uuid": {"$in": list(chunk)}}, {"_id": 0, "uuid": 1, "status": 1}):
                # the portal's collection may hold duplicates: the first wins
                out.setdefault(d["uuid"], d.get("status"))
        return out

    # -- jobs -------------------------------------------------------------------------------
    @guard
    def find_active_jobs(self, dataset_uuids: Sequence[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for chunk in _chunks(list(dataset_uuids)):
            cursor = self.coll("jobs").find(
                {"dataset_uuid": {"$in": list(chunk)}, "status": {"$in": _ACTIVE}}, _ACTIVE_FIELDS
            )
            out.extend(normalize(d) for d in cursor)
        return out

    @guard
    def job_states(self, job_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(list(job_ids)):
            for d in self.coll("jobs").find(
                {"job_id": {"$in": list(chunk)}}, {"_id": 0, "job_id": 1, "status": 1, "attempts": 1}
            ):
                out[d["job_id"]] = {"status": d.get("status"), "attempts": d.get("attempts") or 0}
        return out

    @guard
    def insert_migration_batch(
        self, jobs: Sequence[dict[str, Any]], entries: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]]
    ) -> list[str]:
        """Ledger entries and creation events first, then the jobs, then the entries and events
        of jobs the unique ``active_key`` refused are removed. A crash at any point leaves no job
        the ledger does not know (rollback could never remove it); at worst entries whose job
        does not exist, which rollback reports as already gone."""
        held = self._held_keys([j["active_key"] for j in jobs if j.get("active_key")])
        left_out = {j["job_id"] for j in jobs if j.get("active_key") in held}
        ledger_docs = [dict(e, kind="entry") for e in entries if e.get("job_id") not in left_out]
        if ledger_docs:
            self._ledger().insert_many(ledger_docs, ordered=False)
        event_docs = [dict(ev) for ev in events if ev.get("job_id") not in left_out]
        if event_docs:
            self.coll("events").insert_many(event_docs, ordered=False)
        refused = self._insert_jobs([dict(j) for j in jobs if j["job_id"] not in left_out])
        if refused:
            refused_entries = sorted(e["entry_id"] for e in ledger_docs if e.get("job_id") in refused)
            self._ledger().delete_many({"entry_id": {"$in": refused_entries}})
            self.coll("events").delete_many({"job_id": {"$in": sorted(refused)}})
        left_out |= refused
        return [j["job_id"] for j in jobs if j["job_id"] in left_out]

    def _held_keys(self, keys: list[str]) -> set[str]:
        # Checked up front because servers that do not enforce unique indexes would accept duplicates.
        held: set[str] = set()
        for chunk in _chunks(keys):
            held.update(
                d["active_key"] for d in self.coll("jobs").find({"active_key": {"$in": list(chunk)}}, {"active_key": 1})
            )
        return held

    def _insert_jobs(self, docs: list[dict[str, Any]]) -> set[str]:
        """Insert ``docs`` unordered; return the ids refused by the unique active_key index."""
        from pymongo.errors import BulkWriteError

        if not docs:
            return set()
        try:
            self.coll("jobs").insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors):
                raise
            return {docs[e["index"]]["job_id"] for e in errors}
        return set()

    @guard
    def delete_unstarted_jobs(self, job_ids: Sequence[str]) -> list[str]:
        jobs = self.coll("jobs")
        deleted: list[str] = []
        for chunk in _chunks(list(job_ids)):
            filt = {"job_id": {"$in": list(chunk)}, "status": JobStatus.PENDING.value, "attempts": 0}
            found = [d["job_id"] for d in jobs.find(filt, {"job_id": 1})]
            if not found:
                continue
            jobs.delete_many({**filt, "job_id": {"$in": found}})
            # A job claimed between find and delete survives; report only what is really gone.
            still = {d["job_id"] for d in jobs.find({"job_id": {"$in": found}}, {"job_id": 1})}
            deleted.extend(j for j in found if j not in still)
        return deleted

    # -- ledger -----------------------------------------------------------------------------
    @guard
    def insert_migration(self, doc: dict[str, Any]) -> None:
        self._ledger().insert_one(dict(doc, kind="migration"))

    @guard
    def update_migration(self, migration_id: str, fields: dict[str, Any]) -> bool:
        result = self._ledger().update_one({"migration_id": migration_id, "kind": "migration"}, {"$set": dict(fields)})
        return bool(result.matched_count)

    @guard
    def get_migration(self, migration_id: str) -> dict[str, Any] | None:
        doc = self._ledger().find_one({"migration_id": migration_id, "kind": "migration"})
        return normalize(doc) if doc else None

    @guard
    def list_migrations(self, limit: int | None = None) -> list[dict[str, Any]]:
        cursor = self._ledger().find({"kind": "migration"}).sort([("started_at", -1), ("migration_id", -1)])
        if limit:
            cursor = cursor.limit(int(limit))
        return [normalize(d) for d in cursor]

    @guard
    def find_migration_entries(
        self,
        migration_id: str | None = None,
        dataset_uuid: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        pending_only: bool = False,
    ) -> list[dict[str, Any]]:
        filt: dict[str, Any] = {"kind": "entry", "entry_id": {"$gt": after or ""}}
        if migration_id is not None:
            filt["migration_id"] = migration_id
        if dataset_uuid is not None:
            filt["dataset_uuid"] = dataset_uuid
        if pending_only:
            filt["rolled_back"] = {"$ne": True}
        cursor = self._ledger().find(filt).sort([("entry_id", 1)])
        if limit:
            cursor = cursor.limit(int(limit))
        return [normalize(d) for d in cursor]

    @guard
    def update_migration_entries(self, entry_ids: Sequence[str], fields: dict[str, Any]) -> int:
        total = 0
        for chunk in _chunks(list(entry_ids)):
            result = self._ledger().update_many(
                {"kind": "entry", "entry_id": {"$in": list(chunk)}}, {"$set": dict(fields)}
            )
            total += int(result.matched_count)
        return total
