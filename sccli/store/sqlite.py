"""SQLite backend: stdlib sqlite3, WAL, busy timeout, atomic claim in BEGIN IMMEDIATE.

Each job row keeps the queried fields as indexed columns and the whole document as JSON,
so filters, sorts and counts run in SQL while the document keeps every contract field.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sccli.clock import to_epoch
from sccli.domain import JobStatus
from sccli.errors import Conflict, InvalidInput, StoreUnavailable
from sccli.store import codec
from sccli.store.base import ClaimFilter, JobChange, JobQuery, Store, collection_names
from sccli.store.sqlite_clock import FileClock
from sccli.store.sqlite_records import SqliteRecords
from sccli.store.sqlite_schedules import SqliteLeases, SqliteSchedules
from sccli.store.sqlite_schedules import schema_statements as part_statements
from sccli.store.sqlite_schema import JOB_COLUMNS, column_values, narrowed, schema_statements
from sccli.store.sqlite_stats import SqliteStats
from sccli.store.sqlite_support import check_expect as _check_expect
from sccli.store.sqlite_support import integrity_message as _integrity_message
from sccli.store.sqlite_support import job_where, matches_expect, only_fields, open_connection
from sccli.store.sqlite_support import rollback as _rollback
from sccli.store.sqlite_support import sort_column as _sort_column
from sccli.store.sqlite_tallies import SqliteTallies

if TYPE_CHECKING:
    from sccli.settings import Settings
    from sccli.store.sqlite_ledger import SqliteLedger

_GROUPABLE = ("status", "job_type", "dataset_uuid", "worker_id")
_COLUMN_SET = frozenset(JOB_COLUMNS)
#: Columns that every job has, holding the same text as its document: read without decoding it.
_PLAIN_COLUMNS = frozenset({"job_id", "dataset_uuid", "job_type", "status"})


class SqliteStore(SqliteRecords, Store):
    """Store on one SQLite file, shared safely by processes on one host."""

    kind = "sqlite"
    atomic_followups = True
    #: Page cache per connection, KiB (a long-running service bounds it lower: flat memory).
    cache_kib = 32768
    #: A service's claims and writes touch few pages: a small cache keeps its memory flat.
    service_cache_kib = 8192
    unreachable_fix = "check the path and its permissions"

    def __init__(self, path: str | os.PathLike[str], busy_timeout_ms: int = 10_000, *, create: bool = True) -> None:
        self.path = str(path)
        self.create = create  # False: a missing file is StoreUnavailable, never created (read commands)
        self.display_url = "sqlite://" + (self.path if self.path.startswith("/") else "/" + self.path)
        self.busy_timeout_ms = busy_timeout_ms
        self.names = collection_names()
        self._local = threading.local()
        self._schema_ready = False
        self._commits = 0
        self._clock = FileClock(self.path)

    # -- connections ------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        return open_connection(self.path, self.create, self.busy_timeout_ms, self.cache_kib)

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection, reopened after a fork (never shared with a parent)."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid() or getattr(local, "conn", None) is None:
            local.conn = self._connect()
            local.pid = os.getpid()
            if not self._schema_ready:
                self.ensure_schema()
        return local.conn

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction (BEGIN IMMEDIATE … COMMIT) for every write made inside, on this thread."""
        with self._write():
            yield

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self.conn
        local = self._local
        if getattr(local, "depth", 0):  # inside atomic(): join the open transaction
            yield conn
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"SQLite store is locked: {exc}") from exc
        local.depth = 1
        changes = conn.total_changes
        try:
            yield conn
        except sqlite3.OperationalError as exc:  # disk full, I/O error: the store, not a bug
            _rollback(conn)
            raise StoreUnavailable(f"SQLite write failed: {exc}") from exc
        except BaseException:
            _rollback(conn)
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                _rollback(conn)
                raise StoreUnavailable(f"SQLite commit failed: {exc}") from exc
            self._commits += conn.total_changes != changes
        finally:
            local.depth = 0

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"SQLite read failed: {exc}") from exc

    # -- life cycle -------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        self._schema_ready = True
        conn = self.conn
        parts = part_statements(self.names["schedules"], self.names["leases"])
        for statement in [*schema_statements(self.names), *parts]:
            conn.execute(statement)

    @property
    def schedules(self) -> SqliteSchedules:
        """The recurring schedules (``job_schedules``)."""
        return SqliteSchedules(self._read, self._write, self.names["schedules"])

    @property
    def leases(self) -> SqliteLeases:
        """Named leases (``job_leases``): one service at a time for a fleet duty."""
        return SqliteLeases(self._read, self._write, self.names["leases"])

    def tune_for_service(self, settings: Settings) -> None:
        self.cache_kib = self.service_cache_kib

    def missing_file(self) -> str | None:
        if self.path == ":memory:" or Path(self.path).expanduser().exists():
            return None
        return self.path

    @functools.cached_property
    def ledger(self) -> SqliteLedger:
        """The migration ledger and dataset pages (``job_migrations``)."""
        from sccli.store.sqlite_ledger import SqliteLedger  # here: a read command never needs it

        return SqliteLedger(lambda: self.conn, self._read, self._write, self.names)

    @functools.cached_property
    def stats(self) -> SqliteStats:
        """The monitor's figures, computed in SQL."""
        return SqliteStats(self._read, self.names)

    @functools.cached_property
    def tallies(self) -> SqliteTallies:
        """Finished-job rows and the stored day tallies (``job_tallies``)."""
        return SqliteTallies(self._read, self._write, self.names, self.stats._window, self.now)

    def ping(self, write: bool = False) -> None:
        self._read("SELECT 1")
        if write:
            with self._write():
                pass

    def commit_count(self) -> int:
        return self._commits

    def now(self) -> datetime:
        """The database file's clock, so hosts with skewed clocks agree (:mod:`sqlite_clock`)."""
        return self._clock.now()

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            conn.close()
        self._local = threading.local()

    def index_names(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for key, table in self.names.items():
            rows = self._read("SELECT name FROM sqlite_master WHERE type='index' AND tbl_name=?", (table,))
            out[key] = sorted(r[0] for r in rows)
        return out

    # -- queries ----------------------------------------------------------------------------
    _where = staticmethod(job_where)  # JobQuery → WHERE clause (sqlite_support)

    def _jobs_table(self) -> str:
        return self.names["jobs"]

    # -- jobs -------------------------------------------------------------------------------
    def insert_job(self, doc: dict[str, Any], event: dict[str, Any] | None = None) -> None:
        placeholders = ",".join("?" * (len(JOB_COLUMNS) + 1))
        sql = f"INSERT INTO {self._jobs_table()} ({','.join(JOB_COLUMNS)}, doc) VALUES ({placeholders})"
        try:
            with self._write() as conn:
                conn.execute(sql, [*column_values(doc), codec.dumps(doc)])
                if event is not None:
                    self._insert_event(conn, event)
        except sqlite3.IntegrityError as exc:
            raise Conflict(_integrity_message(exc, doc)) from exc

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        rows = self._read(f"SELECT doc FROM {self._jobs_table()} WHERE job_id = ?", (job_id,))
        return codec.loads(rows[0][0]) if rows else None

    def find_jobs(
        self,
        query: JobQuery,
        sort: Sequence[tuple[str, int]] = (("created_at", -1),),
        limit: int | None = None,
        offset: int = 0,
        fields: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        where, params = self._where(query)
        order = ", ".join(f"{_sort_column(f)} {'ASC' if d > 0 else 'DESC'}" for f, d in sort)
        plain = fields is not None and bool(fields) and set(fields) <= _PLAIN_COLUMNS
        sql = f"SELECT {', '.join(fields) if plain and fields else 'doc'} FROM {self._jobs_table()}{where}"
        if order:
            sql += f" ORDER BY {order}"
        sql += f" LIMIT {int(limit) if limit is not None else -1} OFFSET {int(offset)}"
        if plain and fields:  # the columns hold the document's own values: no JSON to decode
            return [dict(zip(fields, row, strict=True)) for row in self._read(sql, params)]
        docs = [codec.loads(r[0]) for r in self._read(sql, params)]
        return docs if fields is None else only_fields(docs, fields)  # the row is local: read whole

    def due_scheduled(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        # The partial index holds scheduled jobs only, so no query about pending jobs is tempted
        # by it; the planner takes it only when named.
        jobs = self._jobs_table()
        sql = (f"SELECT doc FROM {jobs} INDEXED BY ix_{jobs}_scheduled WHERE status = '{JobStatus.SCHEDULED.value}' "
               "AND run_after <= ? ORDER BY run_after ASC LIMIT ?")
        return [codec.loads(r[0]) for r in self._read(sql, (to_epoch(now), int(limit)))]

    def count_jobs(self, query: JobQuery) -> int:
        where, params = self._where(query)
        return int(self._read(f"SELECT COUNT(*) FROM {self._jobs_table()}{where}", params)[0][0])

    def count_jobs_by(self, group_field: str, query: JobQuery) -> dict[str, int]:
        if group_field not in _GROUPABLE:
            raise InvalidInput(f"cannot group jobs by {group_field!r}")
        where, params = self._where(query)
        sql = f"SELECT {group_field}, COUNT(*) FROM {self._jobs_table()}{where} GROUP BY {group_field}"
        return {str(k): int(n) for k, n in self._read(sql, params)}

    def claim_job(
        self,
        now: datetime,
        fields: dict[str, Any],
        types: Sequence[str] | None = None,
        push: dict[str, Any] | None = None,
        narrow: ClaimFilter | None = None,
    ) -> dict[str, Any] | None:
        if types is not None and not list(types):
            return None
        sql, params = self.claim_query(now, types, narrow)
        change = JobChange(
            set={**fields, "status": JobStatus.RUNNING.value}, inc={"attempts": 1}, push=dict(push or {})
        )
        # A read first: an idle poll takes no write lock and writes no WAL frame.
        if getattr(self._local, "depth", 0) == 0 and not self._read(sql.replace("SELECT doc", "SELECT 1", 1), params):
            return None
        with self._write() as conn:
            row = conn.execute(sql, params).fetchone()
            if row is None:
                return None
            doc = change.apply(codec.loads(row[0]))
            self._replace(conn, doc, change)
        return doc

    def claim_query(self, now: datetime, types: Sequence[str] | None = None,
                    narrow: ClaimFilter | None = None) -> tuple[str, list[Any]]:
        """The claim's read: the first ready pending job by priority then age. INDEXED BY keeps it
        on the claim index, which it walks in that order: the (status, run_after) index of the
        sweeper's promotion would otherwise tempt the planner into sorting every ready job."""
        jobs = self._jobs_table()
        sql = (
            f"SELECT doc FROM {jobs} INDEXED BY ix_{jobs}_claim WHERE status = "
            f"'{JobStatus.PENDING.value}' AND run_after <= ?"
        )
        params: list[Any] = [to_epoch(now)]
        if types is not None:
            types = list(types)
            sql += f" AND job_type IN ({','.join('?' * len(types))})"
            params.extend(types)
        if narrow is not None:  # fair sharing (sccli.fairness): one priority, some users passed over
            sql, params = narrowed(sql, params, narrow)
        return sql + " ORDER BY priority ASC, created_at ASC LIMIT 1", params

    def update_job(
        self,
        job_id: str,
        expect: dict[str, Any],
        change: JobChange,
        event: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        _check_expect(expect)
        try:
            with self._write() as conn:
                row = conn.execute(f"SELECT doc FROM {self._jobs_table()} WHERE job_id = ?", (job_id,)).fetchone()
                if row is None:
                    return None
                before = codec.loads(row[0])
                if not matches_expect(before, expect):
                    return None
                doc = change.apply(before)
                self._replace(conn, doc, change)
                if event is not None:
                    self._insert_event(conn, {**event, "job_id": job_id})
        except sqlite3.IntegrityError as exc:
            raise Conflict(_integrity_message(exc, change.set)) from exc
        return doc

    def touch_job(self, job_id: str, expect: dict[str, Any], fields: dict[str, Any]) -> bool:
        _check_expect(expect)
        # json_set edits the stored document in SQL: no decode and re-encode of the whole job.
        columns = [c for c in fields if c in _COLUMN_SET]
        sets = "".join(f"{c} = ?, " for c in columns)
        paths = "".join(f", '$.{name}', json(?)" for name in fields)
        where = "".join(f" AND {k} = ?" for k in expect)
        sql = f"UPDATE {self._jobs_table()} SET {sets}doc = json_set(doc{paths}) WHERE job_id = ?{where}"
        values = [
            *column_values(fields, columns), *(codec.dumps_value(v) for v in fields.values()), job_id, *expect.values(),
        ]
        with self._write() as conn:
            return bool(conn.execute(sql, values).rowcount)

    def update_jobs(self, query: JobQuery, change: JobChange) -> int:
        where, params = self._where(query)
        with self._write() as conn:
            rows = conn.execute(f"SELECT doc FROM {self._jobs_table()}{where}", params).fetchall()
            for (text,) in rows:
                self._replace(conn, change.apply(codec.loads(text)), change)
        return len(rows)

    def delete_jobs(self, query: JobQuery) -> int:
        where, params = self._where(query)
        with self._write() as conn:
            return conn.execute(f"DELETE FROM {self._jobs_table()}{where}", params).rowcount

    def _replace(self, conn: sqlite3.Connection, doc: dict[str, Any], change: JobChange | None = None) -> None:
        # Only the columns the change touches are SET, so SQLite rewrites only the indexes on them.
        touched = set(JOB_COLUMNS) if change is None else {*change.set, *change.unset, *change.inc} & _COLUMN_SET
        columns = [c for c in JOB_COLUMNS if c in touched]
        assignments = "".join(f"{c} = ?, " for c in columns)
        conn.execute(
            f"UPDATE {self._jobs_table()} SET {assignments}doc = ? WHERE job_id = ?",
            [*column_values(doc, columns), codec.dumps(doc), doc["job_id"]],
        )

    # -- events -----------------------------------------------------------------------------
    def _insert_event(self, conn: sqlite3.Connection, event: dict[str, Any]) -> None:
        conn.execute(
            f"INSERT INTO {self.names['events']} (job_id, at, doc) VALUES (?, ?, ?)",
            (event.get("job_id"), to_epoch(event.get("at")), codec.dumps(event)),
        )

    def insert_event(self, event: dict[str, Any]) -> None:
        with self._write() as conn:
            self._insert_event(conn, event)

    def find_events(self, job_id: str) -> list[dict[str, Any]]:
        sql = f"SELECT doc FROM {self.names['events']} WHERE job_id = ? ORDER BY at ASC, id ASC"
        return [codec.loads(r[0]) for r in self._read(sql, (job_id,))]

    def delete_events(self, job_ids: Sequence[str]) -> int:
        total = 0
        ids = list(job_ids)
        with self._write() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                sql = f"DELETE FROM {self.names['events']} WHERE job_id IN ({','.join('?' * len(chunk))})"
                total += conn.execute(sql, chunk).rowcount
        return total

    def delete_events_before(self, before: datetime, limit: int) -> int:
        table = self.names["events"]
        sql = f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE at < ? ORDER BY at LIMIT ?)"
        with self._write() as conn:
            return int(conn.execute(sql, (to_epoch(before), limit)).rowcount)

