"""The MongoDB backend's translations kept out of :mod:`sccli.store.mongo`: a :class:`JobQuery` as a
filter document, a :class:`JobChange` as update operators, a write's ``expect`` as a filter."""

from __future__ import annotations

from typing import Any

from sccli.store.base import LOGS_CAP, Before, JobChange, JobQuery, OutboxIs, prefix_upper_bound


def query_filter(query: JobQuery) -> dict[str, Any]:
    """Translate a JobQuery into a MongoDB filter document."""
    out: dict[str, Any] = {}
    lists = (
        ("status", "status"), ("job_type", "job_type"), ("dataset_uuids", "dataset_uuid"), ("job_ids", "job_id"),
        ("priorities", "priority"),
    )
    for key, name in lists:
        values = getattr(query, key)
        if values is not None:
            out[name] = {"$in": list(values)}
    for name in ("dataset_uuid", "worker_id", "parent_job_id", "migration_id", "cancel_requested"):
        value = getattr(query, name)
        if value is not None:
            out[name] = value
    ranges = (
        ("created_at", "$gte", query.created_after), ("created_at", "$lt", query.created_before),
        ("updated_at", "$lt", query.updated_before), ("completed_at", "$gte", query.completed_after),
        ("completed_at", "$lt", query.completed_before), ("heartbeat_at", "$lt", query.heartbeat_before),
        ("run_after", "$lte", query.run_after_before), ("outbox.at", "$lt", query.outbox_before),
    )
    for name, op, value in ranges:
        if value is not None:
            out.setdefault(name, {})[op] = value
    if query.job_id_prefix:
        prefix = query.job_id_prefix
        out.setdefault("job_id", {}).update({"$gte": prefix, "$lt": prefix_upper_bound(prefix)})
    return out


def update_document(change: JobChange) -> dict[str, Any]:
    """Translate a JobChange into MongoDB update operators."""
    update: dict[str, Any] = {}
    if change.set:
        update["$set"] = dict(change.set)
    if change.unset:
        update["$unset"] = {k: "" for k in change.unset}
    if change.inc:
        update["$inc"] = dict(change.inc)
    if change.push:
        update["$push"] = {
            k: ({"$each": [v], "$slice": -LOGS_CAP} if k == "logs" else v) for k, v in change.push.items()
        }
    if change.pull:
        update["$pull"] = {k: dict(v) for k, v in change.pull.items()}
    return update


def expect_filter(expect: dict[str, Any]) -> dict[str, Any]:
    """Translate a write's ``expect`` (:func:`sccli.store.sqlite_support.matches_expect`) into a filter."""
    out: dict[str, Any] = {}
    for key, value in expect.items():
        if isinstance(value, OutboxIs):  # exactly these batches: as many, each id at its place
            out[key] = {"$size": len(value.ids)} if value.ids else {"$in": [None, []]}
            out.update({f"{key}.{n}.id": batch_id for n, batch_id in enumerate(value.ids)})
        elif isinstance(value, Before):
            older = {key: {"$lt": value.moment}}
            out.setdefault("$and", []).append({"$or": [older, {key: None}]} if value.or_missing else older)
        elif isinstance(value, (list, tuple, set, frozenset)):
            out[key] = {"$in": list(value)}
        else:
            out[key] = value
    return out
