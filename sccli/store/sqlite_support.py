"""Helpers of the SQLite backend kept out of :mod:`sccli.store.sqlite`: opening a connection, a
:class:`JobQuery` as a WHERE clause, ``expect`` checked on a decoded document, the checks on
sorts and ``expect`` and the connection's fallbacks."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sccli.clock import to_epoch
from sccli.errors import InvalidInput, StoreUnavailable
from sccli.store.base import EXPECTABLE_FIELDS, Before, JobQuery, prefix_upper_bound
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


def open_connection(path: str, create: bool, busy_timeout_ms: int, cache_kib: int) -> sqlite3.Connection:
    """A connection to the SQLite file at ``path`` with the store's pragmas (WAL, busy timeout,
    page and cache size); ``create`` False: a missing file is StoreUnavailable, never created."""
    target: str = path
    if path != ":memory:" and create:
        folder = Path(path).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(f"cannot create the SQLite store's folder {folder}: {exc.strerror or exc}") from None
    elif path != ":memory:":
        if not Path(path).expanduser().is_file():
            raise StoreUnavailable(f"SQLite store {path} does not exist (a command that writes creates it)")
        target = f"file:{quote(str(Path(path).expanduser()))}?mode=rw"
    try:
        uri = target.startswith("file:")
        conn = sqlite3.connect(target, timeout=busy_timeout_ms / 1000, isolation_level=None, uri=uri)
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        # 2 KiB pages halve the WAL bytes each commit writes (a job update touches ~10 index
        # pages): +25 % claim+complete/s. Only takes effect on a new file.
        conn.execute("PRAGMA page_size=2048")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        # Fewer, larger checkpoints: each one fsyncs, and at the default (1000 pages) they
        # cost a quarter of the claim+complete rate. The WAL is truncated back to 64 MiB.
        conn.execute("PRAGMA wal_autocheckpoint=10000")
        conn.execute("PRAGMA journal_size_limit=67108864")
        conn.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
        math_functions(conn)
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"cannot open SQLite store {path}: {exc}") from exc
    return conn


def only_fields(docs: list[dict[str, Any]], fields: Sequence[str]) -> list[dict[str, Any]]:
    """The documents cut down to ``fields`` (those each has): ``find_jobs(fields=...)`` where the
    backend reads whole documents anyway."""
    return [{k: doc[k] for k in fields if k in doc} for doc in docs]


def matches_expect(doc: dict[str, Any], expect: dict[str, Any] | None) -> bool:
    """True when ``doc`` satisfies every ``expect`` entry (tuple/list values mean one-of)."""
    for key, wanted in (expect or {}).items():
        value = doc.get(key)
        if isinstance(wanted, Before):
            if value is None:
                if not wanted.or_missing:
                    return False
            elif not value < wanted.moment:
                return False
        elif isinstance(wanted, (tuple, list, set, frozenset)):
            if value not in wanted:
                return False
        elif value != wanted:
            return False
    return True
