"""Helpers of the SQLite backend kept out of :mod:`sccli.store.sqlite`: a :class:`JobQuery` as a
WHERE clause, the checks on sorts and ``expect`` and the connection's fallbacks."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sccli.clock import to_epoch
from sccli.errors import InvalidInput
from sccli.store.base import EXPECTABLE_FIELDS, JobQuery, prefix_upper_bound
from sccli.store.sqlite_schema import JOB_COLUMNS


def job_where(query: JobQuery) -> tuple[str, list[Any]]:
    """`` WHERE ...`` (or "") and its parameters for the jobs matching ``query``."""
    clauses: list[str] = []
    params: list[Any] = []

    def one_of(column: str, values: Sequence[Any] | None) -> None:
        if values is not None:
            values = list(values)
            clauses.append(f"{column} IN ({','.join('?' * len(values))})" if values else "0")
            params.extend(values)

    def compare(column: str, op: str, value: datetime | None) -> None:
        if value is not None:
            clauses.append(f"{column} {op} ?")
            params.append(to_epoch(value))

    one_of("status", query.status)
    one_of("job_type", query.job_type)
    one_of("dataset_uuid", query.dataset_uuids)
    one_of("job_id", query.job_ids)
    one_of("priority", query.priorities)
    for column in ("dataset_uuid", "worker_id", "parent_job_id", "migration_id"):
        value = getattr(query, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    compare("created_at", ">=", query.created_after)
    compare("created_at", "<", query.created_before)
    compare("updated_at", "<", query.updated_before)
    compare("completed_at", ">=", query.completed_after)
    compare("completed_at", "<", query.completed_before)
    compare("heartbeat_at", "<", query.heartbeat_before)
    compare("run_after", "<=", query.run_after_before)
    if query.job_id_prefix:
        clauses.append("job_id >= ? AND job_id < ?")
        params.extend([query.job_id_prefix, prefix_upper_bound(query.job_id_prefix)])
    if query.cancel_requested is not None:
        clauses.append("cancel_requested = ?")
        params.append(1 if query.cancel_requested else 0)
    if query.outbox_before is not None:
        clauses.append("0")  # follow-ups are written in the transition's transaction: no outbox
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def math_functions(conn: sqlite3.Connection) -> None:
    """``ln`` and ``floor`` for the day tallies' histograms, from Python's math where SQLite was
    built without its math functions (the same C library results either way)."""
    try:
        conn.execute("SELECT ln(1.0), floor(1.5)")
    except sqlite3.OperationalError:
        import math

        conn.create_function("ln", 1, math.log, deterministic=True)
        conn.create_function("floor", 1, math.floor, deterministic=True)


def rollback(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError:  # SQLite may have rolled back already (disk full)
        pass


def sort_column(name: str) -> str:
    if name not in JOB_COLUMNS:
        raise InvalidInput(f"cannot sort jobs by {name!r}")
    return name


def check_expect(expect: dict[str, Any]) -> None:
    unknown = set(expect) - set(EXPECTABLE_FIELDS)
    if unknown:
        raise InvalidInput(f"cannot condition a write on {sorted(unknown)}")


def integrity_message(exc: sqlite3.IntegrityError, doc: dict[str, Any]) -> str:
    if "active_key" in str(exc):
        return f"an active job already exists for {doc.get('active_key')}"
    return f"write refused by the store: {exc}"
