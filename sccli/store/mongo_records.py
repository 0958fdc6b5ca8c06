"""MongoDB side of the store's smaller collections: datasets, queue controls, workers (a mixin of
:class:`~sccli.store.mongo.MongoStore`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from sccli.errors import Conflict
from sccli.store.mongo_support import DUPLICATE_KEY_CODES, guard, normalize


class MongoRecords:
    """Datasets (the portal's ``visstoredatas``), queue controls and service heartbeats."""

    coll: Callable[[str], Any]
    active_keys: Any
    insert_event: Callable[[dict[str, Any]], None]

    # -- events and outbox acknowledgements (the job's round trips, docs/mongodb-cost.md) -----
    @guard
    def insert_events(self, events: Sequence[dict[str, Any]]) -> None:
        """Several events in one ``insert_many`` where the server enforces the unique ``event_id``
        (a replayed one is refused by the index, the others written); one write each elsewhere."""
        from pymongo.errors import BulkWriteError

        if len(events) < 2 or not self.active_keys.events_unique:
            for event in events:
                self.insert_event(event)
            return
        try:
            self.coll("events").insert_many([dict(e) for e in events], ordered=False)
        except BulkWriteError as exc:
            details = exc.details or {}
            codes = {int(e.get("code", 0)) for e in details.get("writeErrors") or []}
            if details.get("writeConcernErrors") or not codes <= DUPLICATE_KEY_CODES:
                raise

    @guard
    def pull_outbox(self, job_ids: Sequence[str], ack: str) -> None:
        """Take the outbox batches marked ``ack`` (run already) off ``job_ids`` in one advisory
        write (``w: 1``): one lost costs a replay of events, which writes nothing twice."""
        from pymongo import WriteConcern

        jobs = self.coll("jobs").with_options(write_concern=WriteConcern(w=1))
        jobs.update_many({"job_id": {"$in": sorted(set(job_ids))}}, {"$pull": {"outbox": {"ack": ack}}})

    # -- datasets ---------------------------------------------------------------------------
    @guard
    def insert_dataset(self, doc: dict[str, Any]) -> None:
        if self.coll("datasets").find_one({"uuid": doc["uuid"]}, {"_id": 1}):
            raise Conflict(f"dataset {doc['uuid']} already exists")
        self.coll("datasets").insert_one(dict(doc))

    @guard
    def get_dataset(self, uuid: str) -> dict[str, Any] | None:
        doc = self.coll("datasets").find_one({"uuid": uuid})
        return normalize(doc) if doc else None

    @guard
    def find_datasets(
        self,
        statuses: Sequence[str] | None = None,
        uuids: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        filt: dict[str, Any] = {}
        if statuses is not None:
            filt["status"] = {"$in": list(statuses)}
        if uuids is not None:
            filt["uuid"] = {"$in": list(uuids)}
        cursor = self.coll("datasets").find(filt).sort([("uuid", 1)])
        if limit:
            cursor = cursor.limit(limit)
        return [normalize(d) for d in cursor]

    @guard
    def find_dataset_uuids(self, user: str | None, name_contains: str | None, limit: int) -> list[str]:
        filt: dict[str, Any] = {}
        if user is not None:
            filt["user"] = user
        if name_contains is not None:
            filt["name"] = {"$regex": re.escape(name_contains), "$options": "i"}
        cursor = self.coll("datasets").find(filt, {"uuid": 1, "_id": 0}).limit(int(limit))
        return [str(d["uuid"]) for d in cursor if d.get("uuid") is not None]

    @guard
    def update_dataset(self, uuid: str, expect_status: str | None, fields: dict[str, Any]) -> bool:
        filt: dict[str, Any] = {"uuid": uuid}
        if expect_status is not None:
            filt["status"] = expect_status
        return bool(self.coll("datasets").update_one(filt, {"$set": fields}).matched_count)

    @guard
    def move_dataset_from(self, uuid: str, sources: Sequence[str], fields: dict[str, Any]) -> dict[str, Any] | None:
        """One ``findAndModify``: the read a move would make and its conditional write together."""
        filt = {"uuid": uuid, "status": {"$in": list(sources)}, "status_move_id": {"$ne": fields.get("status_move_id")}}
        doc = self.coll("datasets").find_one_and_update(filt, {"$set": fields})  # the document before the write
        return normalize(doc) if doc else None

    # -- queue controls ---------------------------------------------------------------------
    @guard
    def list_controls(self) -> list[dict[str, Any]]:
        return [normalize(d) for d in self.coll("controls").find({}).sort([("name", 1)])]

    @guard
    def put_control(self, doc: dict[str, Any]) -> None:
        self.coll("controls").replace_one({"name": doc["name"]}, dict(doc), upsert=True)

    @guard
    def delete_control(self, name: str) -> bool:
        return bool(self.coll("controls").delete_one({"name": name}).deleted_count)

    @guard
    def swap_control(self, doc: dict[str, Any], version: int | None) -> bool:
        controls = self.coll("controls")
        if version is None:  # an upsert that changes nothing when the document exists
            from pymongo.errors import DuplicateKeyError

            try:
                done = controls.update_one({"name": doc["name"]}, {"$setOnInsert": dict(doc)}, upsert=True)
                return done.upserted_id is not None
            except DuplicateKeyError:  # another process inserted it at the same moment (the unique name index)
                return False
        return bool(controls.update_one({"name": doc["name"], "version": version}, {"$set": dict(doc)}).matched_count)

    # -- workers ----------------------------------------------------------------------------
    @guard
    def upsert_worker(self, doc: dict[str, Any]) -> None:
        self.coll("workers").replace_one({"worker_id": doc["worker_id"]}, dict(doc), upsert=True)

    @guard
    def list_workers(self) -> list[dict[str, Any]]:
        return [normalize(d) for d in self.coll("workers").find({}).sort([("heartbeat_at", -1)])]

    @guard
    def delete_worker(self, worker_id: str) -> None:
        self.coll("workers").delete_one({"worker_id": worker_id})
