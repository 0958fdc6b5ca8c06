"""MongoDB side of ``store.schedules`` and ``store.leases``: ``_id`` is derived from the schedule id
or the lease name (:func:`key_id`; ``_id`` is unique on every server, the wire test server included,
which enforces no secondary unique index), fences are the filter of one ``update_one``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sccli.errors import Conflict, InvalidInput
from sccli.store.contract_leases import LeaseContract
from sccli.store.contract_schedules import SCHEDULE_EXPECTABLE, ScheduleContract
from sccli.store.mongo_support import guard, normalize

Collection = Callable[[], Any]


def key_id(key: str) -> Any:
    """A deterministic ObjectId for a string key (some servers accept only ObjectIds as ``_id``)."""
    from bson import ObjectId

    return ObjectId(hashlib.sha256(key.encode()).hexdigest()[:24])


class MongoSchedules(ScheduleContract):
    """``job_schedules`` on MongoDB."""

    def __init__(self, coll: Collection, display_url: str) -> None:
        self._coll, self.display_url = coll, display_url

    @guard
    def insert(self, doc: dict[str, Any]) -> None:
        if self._coll().find_one({"name": doc["name"]}, {"_id": 1}) is not None:  # no unique index on the wire server
            raise Conflict(f"a schedule named {doc['name']!r} already exists")
        self._coll().insert_one({**doc, "_id": key_id(doc["schedule_id"])})

    @guard
    def get(self, schedule_id: str) -> dict[str, Any] | None:
        return _out(self._coll().find_one({"schedule_id": schedule_id}))

    @guard
    def by_name(self, name: str) -> dict[str, Any] | None:
        return _out(self._coll().find_one({"name": name}))

    @guard
    def all(self) -> list[dict[str, Any]]:
        return [normalize(d) for d in self._coll().find({}).sort([("name", 1)])]

    @guard
    def due(self, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
        cursor = (
            self._coll()
            .find({"paused": False, "next_run_at": {"$lte": now}})
            .sort([("next_run_at", 1)])
            .limit(int(limit))
        )
        return [normalize(d) for d in cursor]

    @guard
    def update(
        self,
        schedule_id: str,
        fields: dict[str, Any],
        *,
        expect: dict[str, Any] | None = None,
        unset: Sequence[str] = (),
    ) -> bool:
        bad = set(expect or {}) - set(SCHEDULE_EXPECTABLE)
        if bad:
            raise InvalidInput(f"cannot fence a schedule write on {sorted(bad)}")
        if "name" in fields and self._coll().find_one(
            {"name": fields["name"], "schedule_id": {"$ne": schedule_id}}, {"_id": 1}
        ):
            raise Conflict(f"a schedule named {fields['name']!r} already exists")
        update: dict[str, Any] = {"$set": dict(fields)} if fields else {}
        if unset:
            update["$unset"] = {k: "" for k in unset}
        if not update:
            return self.get(schedule_id) is not None
        return bool(self._coll().update_one({"schedule_id": schedule_id, **(expect or {})}, update).matched_count)

    @guard
    def delete(self, schedule_id: str) -> bool:
        return bool(self._coll().delete_one({"schedule_id": schedule_id}).deleted_count)


class MongoLeases(LeaseContract):
    """``job_leases`` on MongoDB (a small collection: one document per duty)."""

    def __init__(self, coll: Collection, display_url: str) -> None:
        self._coll, self.display_url = coll, display_url

    @guard
    def acquire(
        self, name: str, holder: str, now: datetime, until: datetime, fields: dict[str, Any] | None = None
    ) -> bool:
        from pymongo.errors import DuplicateKeyError

        free = {"_id": key_id(name), "$or": [{"holder": holder}, {"expires_at": {"$lte": now}}, {"expires_at": None}]}
        change = {**(fields or {}), "name": name, "holder": holder, "expires_at": until}
        if self._coll().update_one(free, {"$set": change}).matched_count:
            return True
        try:
            self._coll().insert_one({"_id": key_id(name), **change})
        except DuplicateKeyError:  # someone else holds it (or took it just now)
            return False
        return True

    @guard
    def release(self, name: str, holder: str, now: datetime, fields: dict[str, Any] | None = None) -> bool:
        change = {**(fields or {}), "expires_at": now}
        return bool(self._coll().update_one({"_id": key_id(name), "holder": holder}, {"$set": change}).matched_count)

    @guard
    def get(self, name: str) -> dict[str, Any] | None:
        return _out(self._coll().find_one({"_id": key_id(name)}))


def _out(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if doc is None else normalize(doc)
