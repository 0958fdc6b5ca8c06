"""MongoDB backend (pymongo): find_one_and_update claims, aggregation counts, contract indexes."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sccli.domain import JobStatus
from sccli.errors import InvalidInput
from sccli.store.base import ClaimFilter, JobChange, JobQuery, SchemaProblem, Store, collection_names
from sccli.store.mongo_clock import ServerClock
from sccli.store.mongo_indexes import IndexMismatch
from sccli.store.mongo_ledger import MongoLedger
from sccli.store.mongo_query import expect_filter as _expect_filter
from sccli.store.mongo_query import query_filter, update_document
from sccli.store.mongo_records import MongoRecords
from sccli.store.mongo_schedules import MongoLeases, MongoSchedules
from sccli.store.mongo_stats import MongoStats
from sccli.store.mongo_support import ActiveKeys, create_indexes, duplicate_conflict, guard, log, normalize
from sccli.store.mongo_tallies import MongoTallies

if TYPE_CHECKING:
    from sccli.settings import Settings

#: Queue writes wait for a majority of the replica set, journaled, this long at most.
WRITE_TIMEOUT_MS = 10_000

_GROUPABLE = ("status", "job_type", "dataset_uuid", "worker_id")
_mock_clients: dict[str, Any] = {}


class MongoStore(MongoRecords, Store):
    """Store on a MongoDB database (or mongomock for ``mongomock://`` URLs)."""

    kind = "mongo"
    change_streams = True
    shared_clock = True
    unreachable_fix = "start MongoDB or check the host, port, credentials and firewall"

    def __init__(self, url: str | None, db_name: str, client: Any = None, timeout_ms: int = 3000) -> None:
        from sccli.store.urls import redact

        self.url = url
        self.db_name = db_name
        self.display_url = redact(url) if url else "mongodb://(client)"
        self.timeout_ms = timeout_ms
        self.names = collection_names()
        self._client = client
        self._pid = os.getpid() if client is not None else None
        self._schema_ready = False
        self._db: Any = None
        self.schema_warnings: list[str] = []
        self._clock = ServerClock(lambda: self.client)
        self.active_keys = ActiveKeys(lambda: self.coll("jobs"), lambda: self.coll("controls"),
                                      events=lambda: self.coll("events"))

    def use_timeout(self, timeout_ms: int) -> None:
        """Server selection and connect timeout of clients opened from now on (the service's
        covers an election, ~15 s; the CLI's is short)."""
        if self.url and self.timeout_ms != timeout_ms:
            self.timeout_ms = timeout_ms
            self.close()

    def tune_for_service(self, settings: Settings) -> None:
        """A long-running service waits out an election (its timeout); the CLI fails fast."""
        self.use_timeout(int(settings.store_timeout_seconds * 1000))

    @classmethod
    def from_client(cls, client: Any, db_name: str) -> MongoStore:
        """Wrap an existing MongoClient (the original's ``SC_JobQueueManager(client, db)``)."""
        return cls(None, db_name, client=client)

    # -- connections ------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """This process's client; a forked child opens its own instead of reusing the parent's."""
        if self._client is None or (self.url and self._pid != os.getpid()):
            self._client = self._open_client()
            self._pid = os.getpid()
            self._db = None
        return self._client

    def _open_client(self) -> Any:
        assert self.url is not None
        if self.url.startswith("mongomock://"):
            import mongomock

            return _mock_clients.setdefault(self.url, mongomock.MongoClient(tz_aware=True))
        from pymongo import MongoClient

        return MongoClient(
            self.url, serverSelectionTimeoutMS=self.timeout_ms, connectTimeoutMS=self.timeout_ms,
            socketTimeoutMS=max(self.timeout_ms * 10, 30_000), tz_aware=True, retryWrites=True,
        )

    @property
    def db(self) -> Any:
        """The database with the queue's write concern (majority, journaled), primary reads and
        tz-aware times (even on a client passed in without it, the spec's ``MongoClient(url)``),
        whatever a shared URL says: every read here may decide a write."""
        from bson.codec_options import CodecOptions
        from pymongo import ReadPreference, WriteConcern

        client = self.client
        if self._db is None:
            self._db = client.get_database(
                self.db_name, write_concern=WriteConcern(w="majority", j=True, wtimeout=WRITE_TIMEOUT_MS),
                read_preference=ReadPreference.PRIMARY, codec_options=CodecOptions(tz_aware=True),
            )
        return self._db

    def coll(self, key: str) -> Any:
        """A collection by its contract key (jobs, datasets, events, workers, migrations, controls)."""
        if not self._schema_ready:
            self.ensure_schema()
        return self.db[self.names[key]]

    # -- life cycle -------------------------------------------------------------------------
    @guard
    def ensure_schema(self) -> None:
        """Create what is missing; marked done only once it exists (a failure is tried again on
        a later call, so a service started before mongod ends with its indexes)."""
        warnings: list[str] = []
        db = self.db
        for key in ("jobs", "events", "datasets", "workers", "controls", "schedules"):
            warnings += create_indexes(db[self.names[key]], key)
        for warning in warnings:
            if warning not in self.schema_warnings:
                log.warning("%s", warning)
        self.schema_warnings = warnings
        self._schema_ready = True

    @property
    def schedules(self) -> MongoSchedules:
        """The recurring schedules (``job_schedules``)."""
        return MongoSchedules(lambda: self.coll("schedules"), self.display_url)

    @property
    def leases(self) -> MongoLeases:
        """Named leases (``job_leases``, keyed by ``_id``): one service at a time for a fleet duty."""
        return MongoLeases(lambda: self.coll("leases"), self.display_url)

    @functools.cached_property
    def ledger(self) -> MongoLedger:
        """The migration ledger and dataset pages (``job_migrations``)."""
        return MongoLedger(self.coll, self.display_url)

    @functools.cached_property
    def stats(self) -> MongoStats:
        """The monitor's figures, computed by aggregation pipelines."""
        return MongoStats(self.coll, self.names, self.display_url, self.url)

    @functools.cached_property
    def tallies(self) -> MongoTallies:
        """Finished-job rows and the stored day tallies (``job_tallies``)."""
        return MongoTallies(self.coll, self.now, self.display_url)

    def now(self) -> datetime:
        """The server's clock: this host's plus the offset measured with ``hello`` (:mod:`mongo_clock`)."""
        return self._clock.now()

    def clock_offset(self) -> timedelta:
        """The server's clock minus this host's (as last measured)."""
        self._clock.now()
        return self._clock.offset

    @guard
    def ping(self, write: bool = False) -> None:
        self.client.admin.command("ping")

    def close(self) -> None:
        if self._client is not None and self.url and not self.url.startswith("mongomock://"):
            self._client.close()
        if self.url:
            self._client = None

    @guard
    def index_names(self) -> dict[str, list[str]]:
        return {key: sorted(self.coll(key).index_information()) for key in self.names}

    @guard
    def missing_indexes(self) -> dict[str, list[str]]:
        """By key pattern: an index with the same keys and the options the store relies on counts
        whatever its name (adopted); one with other options does not (see :meth:`schema_problems`)."""
        return {key: [name for name, _, _ in missing] for key, (missing, _) in self._audit().items() if missing}

    @guard
    def schema_problems(self) -> list[SchemaProblem]:
        """Existing indexes on the keys of needed ones whose options the store cannot rely on."""
        return [SchemaProblem(m.detail(), m.fix(self.db_name)) for _, found in self._audit().values() for m in found]

    def _audit(self) -> dict[str, tuple[list[Any], list[IndexMismatch]]]:
        from sccli.store.mongo_indexes import audit
        from sccli.store.mongo_support import INDEXES

        self.ledger.expected_index_names()  # creates the ledger's indexes on demand
        return {key: audit(self.coll(key).index_information(), self.names[key], specs)
                for key, specs in INDEXES.items()}

    # -- jobs -------------------------------------------------------------------------------
    @guard
    def insert_job(self, doc: dict[str, Any], event: dict[str, Any] | None = None) -> None:
        from pymongo.errors import DuplicateKeyError

        key = doc.get("active_key")
        # Where the server or this database's indexes would not refuse a duplicate (see
        # ActiveKeys, schema_problems), the common-case checks are reads before the insert.
        self.active_keys.check(key)
        self.active_keys.check_job_id(doc.get("job_id"))
        try:
            self.coll("jobs").insert_one(dict(doc))
        except DuplicateKeyError as exc:
            raise duplicate_conflict(exc, key) from exc
        if event is not None:
            self.insert_event(event)

    @guard
    def get_job(self, job_id: str) -> dict[str, Any] | None:
        doc = self.coll("jobs").find_one({"job_id": job_id})
        return normalize(doc) if doc else None

    @guard
    def find_jobs(
        self,
        query: JobQuery,
        sort: Sequence[tuple[str, int]] = (("created_at", -1),),
        limit: int | None = None,
        offset: int = 0,
        fields: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        projection = None if fields is None else {"_id": 0, **dict.fromkeys(fields, 1)}
        cursor = self.coll("jobs").find(query_filter(query), projection)
        if sort:
            cursor = cursor.sort(list(sort))
        if offset:
            cursor = cursor.skip(offset)
        if limit is not None:
            cursor = cursor.limit(limit)
        return [normalize(d) for d in cursor]

    @guard
    def count_jobs(self, query: JobQuery) -> int:
        filt = query_filter(query)
        if not filt:  # the whole collection: from its metadata, not a scan
            return int(self.coll("jobs").estimated_document_count())
        return int(self.coll("jobs").count_documents(filt))

    @guard
    def count_jobs_by(self, group_field: str, query: JobQuery) -> dict[str, int]:
        if group_field not in _GROUPABLE:
            raise InvalidInput(f"cannot group jobs by {group_field!r}")
        pipeline = [{"$match": query_filter(query)}, {"$group": {"_id": f"${group_field}", "n": {"$sum": 1}}}]
        return {str(r["_id"]): int(r["n"]) for r in self.coll("jobs").aggregate(pipeline)}

    @guard
    def claim_job(
        self,
        now: datetime,
        fields: dict[str, Any],
        types: Sequence[str] | None = None,
        push: dict[str, Any] | None = None,
        narrow: ClaimFilter | None = None,
    ) -> dict[str, Any] | None:
        from pymongo import ReturnDocument

        # Jobs written by others (the portal, a legacy tool) may lack run_after: claimable at once.
        filt: dict[str, Any] = {
            "status": JobStatus.PENDING.value,
            "$or": [{"run_after": {"$lte": now}}, {"run_after": None}],
        }
        if types is not None:
            filt["job_type"] = {"$in": list(types)}
        if narrow is not None and narrow.priority is not None:
            filt["priority"] = narrow.priority
        if narrow is not None and narrow.skip_users:
            filt["user"] = {"$nin": list(narrow.skip_users)}  # a job without a user is never skipped
        doc = self.coll("jobs").find_one_and_update(
            filt,
            update_document(
                JobChange(set={**fields, "status": JobStatus.RUNNING.value}, inc={"attempts": 1}, push=dict(push or {}))
            ),
            sort=[("priority", 1), ("created_at", 1)],
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return None
        return normalize(doc)

    @guard
    def update_job(
        self,
        job_id: str,
        expect: dict[str, Any],
        change: JobChange,
        event: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        from pymongo import ReturnDocument
        from pymongo.errors import DuplicateKeyError

        key = change.set.get("active_key")
        self.active_keys.check(key, job_id)
        try:
            doc = self.coll("jobs").find_one_and_update(
                {"job_id": job_id, **_expect_filter(expect)}, update_document(change),
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError as exc:
            raise duplicate_conflict(exc, key) from exc
        if doc is None:
            return None
        if event is not None:
            self.insert_event({**event, "job_id": job_id})
        return normalize(doc)

    def _advisory(self, key: str) -> Any:
        """For advisory writes (heartbeats, progress) at ``w: 1``: one lost in a failover costs a
        refresh; the sweeper waits many heartbeats before it calls a job stale."""
        from pymongo import WriteConcern

        return self.coll(key).with_options(write_concern=WriteConcern(w=1))

    @guard
    def touch_job(self, job_id: str, expect: dict[str, Any], fields: dict[str, Any]) -> bool:
        return bool(
            self._advisory("jobs")
            .update_one({"job_id": job_id, **_expect_filter(expect)}, {"$set": fields})
            .matched_count
        )

    @guard
    def touch_jobs(self, fences: Sequence[tuple[str, dict[str, Any]]], fields: dict[str, Any]) -> list[bool]:
        """One advisory write for all, each fenced; one per job only if a fence failed (to tell which)."""
        if len(fences) < 2:
            return super().touch_jobs(fences, fields)
        filt = {"$or": [{"job_id": job_id, **_expect_filter(expect)} for job_id, expect in fences]}
        if self._advisory("jobs").update_many(filt, {"$set": fields}).matched_count == len(fences):
            return [True] * len(fences)
        return super().touch_jobs(fences, fields)

    @guard
    def update_jobs(self, query: JobQuery, change: JobChange) -> int:
        return int(self.coll("jobs").update_many(query_filter(query), update_document(change)).modified_count)

    @guard
    def delete_jobs(self, query: JobQuery) -> int:
        return int(self.coll("jobs").delete_many(query_filter(query)).deleted_count)

    # -- events -----------------------------------------------------------------------------
    @guard
    def insert_event(self, event: dict[str, Any]) -> None:
        if event.get("event_id"):  # a replayed follow-up: written at most once
            from pymongo.errors import DuplicateKeyError

            try:
                self.coll("events").update_one({"event_id": event["event_id"]}, {"$setOnInsert": dict(event)},
                                               upsert=True)
            except DuplicateKeyError:
                pass  # a racing replay inserted it first: the unique index kept one
        else:
            self.coll("events").insert_one(dict(event))

    @guard
    def find_events(self, job_id: str) -> list[dict[str, Any]]:
        return [normalize(d) for d in self.coll("events").find({"job_id": job_id}).sort([("at", 1), ("_id", 1)])]

    @guard
    def delete_events(self, job_ids: Sequence[str]) -> int:
        total = 0
        ids = list(job_ids)
        for start in range(0, len(ids), 1000):
            total += self.coll("events").delete_many({"job_id": {"$in": ids[start : start + 1000]}}).deleted_count
        return total

    @guard
    def delete_events_before(self, before: datetime, limit: int) -> int:
        # Bounded by time, not by _id (every filter stays on the ``at`` index): up to the
        # limit-th oldest event's time, so events recorded at that very instant go together.
        events = self.coll("events")
        last = list(events.find({"at": {"$lt": before}}, {"at": 1}).sort([("at", 1)]).skip(limit - 1).limit(1))
        bound = {"$lte": last[0]["at"]} if last else {"$lt": before}
        return int(events.delete_many({"at": bound}).deleted_count)
