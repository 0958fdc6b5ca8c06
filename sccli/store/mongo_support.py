"""Shared by the MongoDB modules: error translation, document normalisation and the one
list of indexes (``ensure_schema`` creates it, migration validation expects it)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sccli.clock import as_utc
from sccli.errors import Conflict, InvalidInput, StoreUnavailable

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("sccli.store")

#: Server error codes of index creation that leave an equivalent index in place, or say the
#: user may read but not create indexes: the store keeps working (with one warning).
INDEX_CONFLICT_CODES = {85, 86}  # IndexOptionsConflict, IndexKeySpecsConflict
UNAUTHORIZED_CODES = {13}  # Unauthorized
DUPLICATE_KEY_CODES = {11000}  # DuplicateKey

#: Collection key → (index name, keys, options); every key ascending. The contract's minimum
#: (unique job_id, the claim index, dataset_uuid, (status, updated_at), (status, completed_at),
#: worker_id, sparse unique active_key) plus what the monitor and the migration ledger read.
INDEXES: dict[str, list[tuple[str, list[str], dict[str, Any]]]] = {
    "jobs": [
        ("job_id_unique", ["job_id"], {"unique": True}),
        # The claim: equality on status (and job_type), then the sort keys; run_after is a
        # range, so it comes last or not at all (ESR), and the sort needs no memory.
        ("claim_priority", ["status", "priority", "created_at"], {}),
        ("claim_typed", ["status", "job_type", "priority", "created_at"], {}),
        ("dataset_uuid", ["dataset_uuid", "created_at"], {}),
        ("status_created_at", ["status", "created_at"], {}),  # listings by status, newest first
        ("status_type_created_at", ["status", "job_type", "created_at"], {}),
        ("type_created_at", ["job_type", "created_at"], {}),
        ("status_updated_at", ["status", "updated_at"], {}),
        ("status_completed_at", ["status", "completed_at"], {}),
        ("status_heartbeat_at", ["status", "heartbeat_at"], {}),  # the stale sweep
        ("status_run_after", ["status", "run_after"], {}),  # the sweeper's promotion of due scheduled jobs
        ("status_type_run_after", ["status", "job_type", "run_after"], {}),  # --check: oldest ready job per type
        ("completed_at", ["completed_at"], {}),
        ("created_at", ["created_at"], {}),
        ("status_job_type", ["status", "job_type"], {}),  # monitor: covered queue counts
        ("worker_id_created_at", ["worker_id", "created_at"], {}),
        ("parent_job_id_created_at", ["parent_job_id", "created_at"], {"sparse": True}),
        ("migration_id_created_at", ["migration_id", "created_at"], {"sparse": True}),
        ("outbox_at", ["outbox.at"], {"sparse": True}),  # follow-ups left by a crash
        ("active_key_unique", ["active_key"], {"unique": True, "sparse": True}),
    ],
    # A replayed follow-up's event is written once: the upsert in the common case, the unique
    # index when two replays race.
    "events": [
        ("job_id_at_id", ["job_id", "at", "_id"], {}),
        ("event_id_unique", ["event_id"], {"unique": True, "sparse": True}),
        ("at", ["at"], {}),  # retention events_days: the oldest events first
    ],
    # The portal owns visstoredatas: its documents may repeat or lack uuid, so no unique index.
    "datasets": [("uuid", ["uuid"], {}), ("status_uuid", ["status", "uuid"], {})],
    "workers": [("worker_id_unique", ["worker_id"], {"unique": True})],
    "controls": [("name_unique", ["name"], {"unique": True})],
    "schedules": [
        ("schedule_id_unique", ["schedule_id"], {"unique": True}),
        ("name_unique", ["name"], {"unique": True}),
        ("paused_next_run_at", ["paused", "next_run_at"], {}),  # the due schedules, earliest first
    ],
    "migrations": [
        ("entry_id_unique", ["entry_id"], {"unique": True, "sparse": True}),
        ("kind_entry_id", ["kind", "entry_id"], {}),
        ("kind_started_at", ["kind", "started_at", "migration_id"], {}),
        ("migration_kind", ["migration_id", "kind"], {}),
        ("dataset_uuid", ["dataset_uuid"], {"sparse": True}),
    ],
}


#: How stale a secondary may be for the figures' reads unless the URL says (90: MongoDB's minimum).
FIGURES_MAX_STALENESS_SECONDS = 90

def figures_read_preference(url: str | None) -> Any:
    """Where figures (monitor, report, dashboard, API counts) are read: ``secondaryPreferred``
    with the URL's ``maxStalenessSeconds`` (else 90 s, MongoDB's minimum); the primary when the
    URL's ``readPreference`` is ``primary``. Never for a read that decides a write: those stay
    on the primary (``MongoStore.db``)."""
    from urllib.parse import parse_qs, urlsplit

    from pymongo.read_preferences import Primary, SecondaryPreferred

    options = {k.lower(): v[-1] for k, v in parse_qs(urlsplit(url or "").query).items()}
    if options.get("readpreference", "").lower() == "primary":
        return Primary()
    return SecondaryPreferred(max_staleness=int(options.get("maxstalenessseconds", FIGURES_MAX_STALENESS_SECONDS)))


def index_keys(info: dict[str, Any]) -> tuple[str, ...]:
    """The field names of an ``index_information`` entry, in order."""
    return tuple(str(field) for field, _direction in info.get("key", []))


def create_indexes(collection: Any, key: str) -> list[str]:
    """Create the missing indexes of one collection, idempotently; return warnings.

    An existing index with the same keys is adopted whatever its name (the portal's
    ``uuid_1``) when its options are what the store relies on (:mod:`mongo_indexes`); one
    whose options differ is reported with the command that replaces it, not adopted (an older
    sccli's own index is replaced in place). A user who may not create indexes gets a warning,
    not an error: the store works with what is there.
    """
    from pymongo.errors import OperationFailure

    from sccli.store.mongo_indexes import OWN_OLD_NAMES, audit

    infos = collection.index_information()
    missing, found = audit(infos, collection.name, INDEXES[key])
    mismatches = [m for m in found if OWN_OLD_NAMES.get(m.wanted) != m.existing]
    warnings = [f"{m.detail()}; fix: {m.fix(collection.database.name)}" for m in mismatches]
    blocked = {m.wanted for m in mismatches}  # MongoDB refuses a second index on the same keys
    for name, fields, options in missing:
        if name in blocked:
            continue
        try:
            old = OWN_OLD_NAMES.get(name)
            if old is not None and old in infos:
                collection.drop_index(old)
            collection.create_index([(f, 1) for f in fields], name=name, **options)
        except OperationFailure as exc:
            if exc.code in UNAUTHORIZED_CODES:
                return [f"{collection.name}: not allowed to create indexes ({first_line(exc)}); queries may be slow"]
            if exc.code not in INDEX_CONFLICT_CODES | DUPLICATE_KEY_CODES:
                raise  # a unique index over existing duplicates is reported, not fatal
            warnings.append(f"{collection.name}: index {name} {fields} not created: {first_line(exc)}")
    return warnings


def expected_index_keys() -> dict[str, list[tuple[str, ...]]]:
    """Key patterns per collection key (what ``sc migrate validate`` and ``sc doctor`` look for)."""
    return {key: [tuple(fields) for _, fields, _ in specs] for key, specs in INDEXES.items()}


def expected_index_names() -> dict[str, list[str]]:
    """Index names per collection key, ``_id_`` included, as ``index_information`` lists them."""
    return {key: sorted(["_id_", *(name for name, _, _ in specs)]) for key, specs in INDEXES.items()}


def guard(method: F) -> F:
    """Translate pymongo's connection errors into StoreUnavailable."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        from pymongo import errors

        try:
            return method(self, *args, **kwargs)
        except errors.DuplicateKeyError as exc:
            raise Conflict(duplicate_message(exc)) from exc
        except (
            errors.ConnectionFailure, errors.ServerSelectionTimeoutError, errors.NetworkTimeout, errors.WTimeoutError,
        ) as exc:
            raise StoreUnavailable(f"MongoDB unreachable at {self.display_url}: {first_line(exc)}") from exc
        except errors.DocumentTooLarge as exc:
            raise InvalidInput(f"document too large for MongoDB: {first_line(exc)}") from exc
        except errors.OperationFailure as exc:
            if exc.code in UNAUTHORIZED_CODES:
                raise StoreUnavailable(
                    f"MongoDB refused the operation (not authorized) at {self.display_url}: {first_line(exc)}"
                ) from exc
            if exc.code in (10334, 17419, 17420):  # BSONObjectTooLarge and kin
                raise InvalidInput(f"document too large for MongoDB: {first_line(exc)}") from exc
            raise

    return wrapper  # type: ignore[return-value]


class ActiveKeys:
    """The one-active-job-per-dataset-and-type rule on a MongoDB server. Every real MongoDB
    enforces the sparse unique ``active_key`` index, so a job write needs no pre-check (the
    write itself is refused: one round trip less per creation); a server that does not (the
    wire test server) gets the common-case check, a read before the write."""

    def __init__(self, jobs: Callable[[], Any], controls: Callable[[], Any], enforced: bool | None = None,
                 events: Callable[[], Any] | None = None) -> None:
        self._jobs = jobs
        self._controls = controls
        self._events = events
        self._enforced = enforced  # None: probe the server at the first job write
        self._events_unique: bool | None = None if events is not None else enforced

    @property
    def enforced(self) -> bool:
        """Probed once: ``jobs`` has its ``job_id`` and ``active_key`` indexes unique, and the
        server refuses duplicates (two inserts of one probe ``name`` into ``controls``, unique
        on name, then its removal)."""
        if self._enforced is None:
            self._enforced = self._probe()
        return self._enforced

    @property
    def events_unique(self) -> bool:
        """The server refuses a second event of one ``event_id`` (see :attr:`enforced`) and
        ``job_events`` has that index unique: events may be inserted together, a replayed one
        refused by the index, instead of one upsert each."""
        if self._events_unique is None:
            unique = self.enforced and self._events is not None and ("event_id",) in {
                index_keys(info) for info in self._events().index_information().values() if info.get("unique")}
            self._events_unique = bool(unique)
        return self._events_unique

    def _probe(self) -> bool:
        import os
        import time

        from pymongo.errors import DuplicateKeyError

        unique = {index_keys(info) for info in self._jobs().index_information().values() if info.get("unique")}
        if not {("job_id",), ("active_key",)} <= unique:  # a portal database's own index without ``unique``
            return False
        controls = self._controls()
        probe = {"name": f"probe:unique:{os.getpid()}:{time.monotonic_ns()}", "kind": "probe"}
        try:
            controls.insert_one(dict(probe))
            controls.insert_one(dict(probe))
        except DuplicateKeyError:
            return True
        finally:
            controls.delete_many({"name": probe["name"]})
        return False

    def check_job_id(self, job_id: Any) -> None:
        """Conflict when a job ``job_id`` exists, only where the server would not refuse it."""
        if not self.enforced and self._jobs().find_one({"job_id": job_id}, {"_id": 1}):
            raise Conflict(f"duplicate key: a job {job_id} already exists")

    def check(self, key: Any, job_id: str | None = None) -> None:
        """Conflict when another job holds ``key``, only where the server would not refuse it."""
        if not key or self.enforced:
            return
        filt: dict[str, Any] = {"active_key": key}
        if job_id is not None:
            filt["job_id"] = {"$ne": job_id}
        if self._jobs().find_one(filt, {"_id": 1}):
            raise Conflict(f"an active job already exists for {key}")


def duplicate_conflict(exc: Exception, active_key: Any) -> Conflict:
    """The Conflict of a refused job write: its ``active_key`` unless the server names another index."""
    details = getattr(exc, "details", None) or {}
    index = " ".join(str(k) for k in (details.get("keyPattern") or {})) or str(exc)
    if active_key and "job_id" not in index:
        return Conflict(f"an active job already exists for {active_key}")
    return Conflict(duplicate_message(exc))


def first_line(exc: Exception) -> str:
    return str(exc).split("\n")[0].split(", Timeout:")[0][:200]


def duplicate_message(exc: Exception) -> str:
    if "active_key" in str(exc):
        return "an active job already exists for this dataset and job type"
    return f"duplicate key: {first_line(exc)}"


def normalize(value: Any) -> Any:
    """Drop ``_id`` and make every datetime timezone-aware UTC, recursively."""
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items() if k != "_id"}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, datetime):
        return as_utc(value)
    return value


