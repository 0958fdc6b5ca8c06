"""Shared by the MongoDB modules: error translation, document normalisation and the one
list of indexes (``ensure_schema`` creates it, migration validation expects it)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sccli.clock import as_utc
from sccli.errors import Conflict, StoreUnavailable

F = TypeVar("F", bound=Callable[..., Any])

#: Collection key → (index name, keys, options); every key ascending. The contract's minimum
#: (unique job_id, the claim index, dataset_uuid, (status, updated_at), (status, completed_at),
#: worker_id, sparse unique active_key) plus what the monitor and the migration ledger read.
INDEXES: dict[str, list[tuple[str, list[str], dict[str, Any]]]] = {
    "jobs": [
        ("job_id_unique", ["job_id"], {"unique": True}),
        ("claim", ["status", "priority", "run_after", "created_at"], {}),
        ("dataset_uuid", ["dataset_uuid", "created_at"], {}),
        ("status_updated_at", ["status", "updated_at"], {}),
        ("status_completed_at", ["status", "completed_at"], {}),
        ("completed_at", ["completed_at"], {}),
        ("created_at", ["created_at"], {}),
        ("status_job_type", ["status", "job_type"], {}),  # monitor: covered queue counts
        ("worker_id", ["worker_id"], {}),
        ("parent_job_id", ["parent_job_id"], {"sparse": True}),
        ("migration_id", ["migration_id"], {"sparse": True}),
        ("active_key_unique", ["active_key"], {"unique": True, "sparse": True}),
    ],
    "events": [("job_id_at", ["job_id", "at"], {})],
    "datasets": [("uuid_unique", ["uuid"], {"unique": True}), ("status", ["status"], {})],
    "workers": [("worker_id_unique", ["worker_id"], {"unique": True})],
    "migrations": [
        ("entry_id_unique", ["entry_id"], {"unique": True, "sparse": True}),
        ("migration_kind", ["migration_id", "kind"], {}),
        ("dataset_uuid", ["dataset_uuid"], {"sparse": True}),
    ],
}


def create_indexes(collection: Any, key: str) -> None:
    """Create the indexes of one collection (idempotent)."""
    for name, fields, options in INDEXES[key]:
        collection.create_index([(f, 1) for f in fields], name=name, **options)


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
        except (errors.ConnectionFailure, errors.ServerSelectionTimeoutError, errors.NetworkTimeout) as exc:
            raise StoreUnavailable(f"MongoDB unreachable at {self.display_url}: {first_line(exc)}") from exc

    return wrapper  # type: ignore[return-value]


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


