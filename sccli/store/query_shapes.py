"""The MongoDB store's query shapes and the rule that each is served by an index.

Neither mongomock nor the wire test server has a query planner, so this registry is the guard:
every filter the store sends (``find``, counts, updates, the opening ``$match`` of a pipeline)
is reduced to its shape (equality fields, sort fields, range fields); a test records the shapes
the store really sends and checks each against :data:`SHAPES`, and each registered shape
against the index list by the equality-sort-range rule. A new query without an index fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

_RANGE_OPS = {"$lt", "$lte", "$gt", "$gte", "$ne", "$exists", "$nin", "$not"}

#: Collections small enough to read whole (one document per service, per pause, per day).
SMALL_COLLECTIONS = frozenset({"workers", "controls", "tallies", "leases"})


@dataclass(frozen=True)
class QueryShape:
    """What a query constrains: fields compared for equality (``$in`` counts), the sort, ranges."""

    collection: str
    equality: frozenset[str] = frozenset()
    sort: tuple[str, ...] = ()
    ranges: frozenset[str] = frozenset()

    def describe(self) -> str:
        return f"{self.collection}: eq {sorted(self.equality)} sort {list(self.sort)} range {sorted(self.ranges)}"


def shape(collection: str, filt: dict[str, Any] | None, sort: Sequence[tuple[str, int]] | None = None) -> QueryShape:
    """The shape of a filter document (and sort) sent to ``collection``."""
    equality: set[str] = set()
    ranges: set[str] = set()
    _collect(filt or {}, equality, ranges)
    return QueryShape(collection, frozenset(equality - ranges), tuple(f for f, _ in sort or ()), frozenset(ranges))


def _collect(filt: dict[str, Any], equality: set[str], ranges: set[str]) -> None:
    for key, value in filt.items():
        if key in ("$or", "$and", "$nor"):
            for branch in value:  # alternatives on one field (run_after ≤ now or missing) are a range
                sub_eq: set[str] = set()
                _collect(branch, sub_eq, ranges)
                (equality if key == "$and" else ranges).update(sub_eq)
        elif key.startswith("$"):
            continue
        elif key.startswith("outbox.") and key.endswith(".id"):  # a fence on a one-job write's outbox: see OutboxIs
            equality.add("outbox")
        elif isinstance(value, dict) and any(op in _RANGE_OPS for op in value):
            ranges.add(key)
        else:
            equality.add(key)


def served_by(query: QueryShape, index: Sequence[str]) -> bool:
    """The equality-sort-range rule: the index opens with equality fields (all of them when the
    query sorts... or at least one, whose rest is filtered on fetch), then the sort fields in
    order; with neither, it opens with a range field."""
    keys = list(index)
    lead = 0
    while lead < len(keys) and keys[lead] in query.equality:
        lead += 1
    if query.equality and lead == 0:
        return False
    sort = tuple(f for f in query.sort if f not in query.equality)  # a field pinned by equality sorts itself
    if sort:
        return tuple(keys[lead:lead + len(sort)]) == sort
    if not query.equality:
        return bool(keys) and keys[0] in query.ranges
    return True


def unserved(shapes: Iterable[QueryShape], indexes: dict[str, list[tuple[str, ...]]]) -> list[QueryShape]:
    """The shapes no index serves (small collections excepted)."""
    return [
        s
        for s in shapes
        if s.collection not in SMALL_COLLECTIONS
        and not any(served_by(s, keys) for keys in indexes.get(s.collection, []))
    ]


def _q(collection: str, eq: Iterable[str] = (), sort: Iterable[str] = (), ranges: Iterable[str] = ()) -> QueryShape:
    return QueryShape(collection, frozenset(eq), tuple(sort), frozenset(ranges))


#: Every query shape the MongoDB store issues (the recording test keeps this list complete).
SHAPES: tuple[QueryShape, ...] = (
    # claims: pending (of some types), by priority then age; run_after is a range
    _q("jobs", ["status"], ["priority", "created_at"], ["run_after"]),
    _q("jobs", ["status", "job_type"], ["priority", "created_at"], ["run_after"]),
    # one job, conditional writes (lease, status, heartbeat fence, priority)
    _q("jobs", ["job_id"]), _q("jobs", ["job_id", "status"]), _q("jobs", ["job_id", "status", "lease_token"]),
    _q("jobs", ["job_id", "lease_token"]), _q("jobs", ["job_id", "status", "priority"]),
    _q("jobs", ["job_id", "status", "lease_token"], ranges=["heartbeat_at"]),
    _q("jobs", [], ["job_id"], ["job_id"]),  # a job id typed as a prefix (the unique job_id index)
    # ... replacing the outbox the writer's copy had (sccli.store.base.OutboxIs): filtered on the one job fetched
    _q("jobs", ["job_id", "status", "outbox"]), _q("jobs", ["job_id", "status", "lease_token", "outbox"]),
    _q("jobs", ["job_id", "status", "outbox"], ranges=["run_after"]),
    _q("jobs", ["job_id", "status", "lease_token", "outbox"], ranges=["heartbeat_at"]),
    _q("jobs", ["job_id", "cancel_requested"]), _q("jobs", ["active_key"]),
    _q("jobs", ["active_key"], ranges=["job_id"]),
    # listings, newest first
    _q("jobs", [], ["created_at"]), _q("jobs", ["status"], ["created_at"]), _q("jobs", ["job_type"], ["created_at"]),
    _q("jobs", ["status", "job_type"], ["created_at"]), _q("jobs", ["dataset_uuid"], ["created_at"]),
    _q("jobs", ["dataset_uuid", "status"], ["created_at"]), _q("jobs", ["dataset_uuid", "job_type"], ["created_at"]),
    _q("jobs", ["dataset_uuid", "status", "job_type"], ["created_at"]),
    _q("jobs", ["parent_job_id"], ["created_at"]), _q("jobs", ["migration_id"], ["created_at"]),
    _q("jobs", ["migration_id", "job_type"], ["created_at"]),
    _q("jobs", ["status", "worker_id"], ["created_at"]), _q("jobs", ["worker_id"], ["created_at"]),
    # counts and windows (explain, idle check, monitor, cleanup, sweeps)
    _q("jobs", ["status"]), _q("jobs", ["status", "job_type"]), _q("jobs", ["status", "dataset_uuid"]),
    _q("jobs", ["dataset_uuid"]),
    _q("jobs", ["status", "priority"], ranges=["run_after"]),
    _q("jobs", ["status", "priority"], ranges=["run_after", "created_at"]),
    _q("jobs", ["status"], ["heartbeat_at"], ["heartbeat_at"]),
    _q("jobs", ["status", "priority"], ["created_at"], ["run_after"]),
    _q("jobs", ["status"], ranges=["updated_at"]), _q("jobs", ["status"], ["completed_at"], ["completed_at"]),
    _q("jobs", ["status"], ranges=["completed_at"]), _q("jobs", ranges=["completed_at"]),
    _q("jobs", ranges=["outbox.at"]),
    # day tallies: first day, open counts
    _q("jobs", [], ["completed_at"], ["completed_at"]), _q("jobs", ["status", "completed_at"]),
    _q("jobs", ["job_id"], ranges=["cancel_requested"]),
    _q("jobs", ["job_type"]), _q("jobs", ["status"], ranges=["completed_at", "started_at"]),
    _q("jobs", ["status", "job_type"], ranges=["completed_at", "started_at"]),  # a percentile's rank, per type
    _q("jobs", ["status", "job_type"], ["run_after"], ["run_after"]),  # --check: the oldest ready job of a type
    _q("jobs", ["status"], ["run_after"], ["run_after"]),  # the sweeper: due scheduled jobs, earliest first
    _q("jobs", ["job_id", "status"], ranges=["run_after"]),  # a promotion fenced on the start time it read
    # validate: active jobs of a page of datasets
    _q("jobs", ["dataset_uuid", "status"], ["dataset_uuid", "created_at"]),
    # events, datasets, ledger
    _q("events", ["job_id"], ["at", "_id"]), _q("events", ["job_id"]), _q("events", ["event_id"]),
    _q("events", [], ["at"], ["at"]), _q("events", ranges=["at"]),  # retention events_days: the oldest first
    _q("datasets", ["uuid"]), _q("datasets", ["uuid", "status"]), _q("datasets", [], ["uuid"]),
    _q("datasets", ["status"], ["uuid"]),
    _q("datasets", ["uuid", "status"], ranges=["status_move_id"]),  # a claim's move: read and written at once
    _q("datasets", ["uuid"], ["uuid"]), _q("datasets", [], ["uuid"], ["uuid"]),
    _q("datasets", ["status"], ["uuid"], ["uuid"]),
    _q("migrations", ["migration_id", "kind"]), _q("migrations", ["entry_id"]), _q("migrations", ["dataset_uuid"]),
    _q("migrations", ["kind"], ["entry_id"], ["entry_id", "rolled_back"]),
    _q("migrations", ["kind"], ["started_at", "migration_id"]),
    # schedules: by id (fenced on next_run_at / firing_at), by name, the due ones earliest first
    _q("schedules", ["schedule_id"]), _q("schedules", ["schedule_id", "next_run_at"]),
    _q("schedules", ["schedule_id", "next_run_at", "firing_at"]), _q("schedules", ["schedule_id", "paused"]),
    _q("schedules", ["name"]), _q("schedules", ["name"], ranges=["schedule_id"]), _q("schedules", [], ["name"]),
    _q("schedules", ["paused"], ["next_run_at"], ["next_run_at"]),
)

#: Whole-collection reads allowed on purpose, each with its reason.
SCANS: dict[QueryShape, str] = {
    _q("datasets"): "the migration counts every dataset by status once per run (it reads them all anyway)",
    # sc job list --user/--dataset-name: the portal's visstoredatas has no index on user or name
    # (and sccli does not add indexes to it); the scan stops at job_search.DATASET_MATCH_LIMIT matches.
    _q("datasets", ["user"]): "job search by dataset owner: bounded scan (no index on the portal's user field)",
    _q("datasets", ["name"]): "job search by dataset name (a substring: no index can serve it): bounded scan",
    _q("datasets", ["user", "name"]): "job search by dataset owner and name: bounded scan, as above",
}
