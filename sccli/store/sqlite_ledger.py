"""SQLite side of the migration ledger: batched job writes and the ``job_migrations`` table.

``store.ledger`` of :class:`~sccli.store.sqlite.SqliteStore` (the contract is
:class:`~sccli.store.contract_ledger.LedgerContract`). Every batch is one ``BEGIN IMMEDIATE``
transaction written with ``executemany``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sccli.clock import from_epoch, to_epoch
from sccli.domain import ACTIVE_STATUSES, JobStatus
from sccli.store import codec
from sccli.store.contract_ledger import LedgerContract

_CHUNK = 500  # bound parameters per IN (...) list
_ACTIVE = ", ".join(f"'{s.value}'" for s in ACTIVE_STATUSES)
_INDEX_RE = re.compile(r"CREATE (?:UNIQUE )?INDEX IF NOT EXISTS (\w+) ON (\w+)")


def ledger_statements(table: str) -> list[str]:
    """DDL of the ledger table: one row per migration header (key = migration_id) or entry."""
    return [
        f"""CREATE TABLE IF NOT EXISTS {table} (
            key TEXT PRIMARY KEY, migration_id TEXT NOT NULL, kind TEXT NOT NULL,
            dataset_uuid TEXT, job_id TEXT, started_at REAL, rolled_back INTEGER NOT NULL DEFAULT 0,
            doc TEXT NOT NULL)""",
        f"CREATE INDEX IF NOT EXISTS ix_{table}_migration ON {table}(migration_id, kind, key)",
        f"CREATE INDEX IF NOT EXISTS ix_{table}_dataset ON {table}(dataset_uuid)",
    ]


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


class SqliteLedger(LedgerContract):
    """The migration ledger on SQLite, handed the store's connection, read and write helpers and table names."""

    def __init__(
        self,
        conn: Callable[[], sqlite3.Connection],
        read: Callable[..., list[sqlite3.Row]],
        write: Callable[[], AbstractContextManager[sqlite3.Connection]],
        names: dict[str, str],
    ) -> None:
        self._conn = conn
        self._read = read
        self._write = write
        self.names = names
        self._ledger_schema_ready = False

    # -- schema -----------------------------------------------------------------------------
    def _ledger(self) -> str:
        """The ledger table's name, created on first use in this process."""
        table = self.names["migrations"]
        if not self._ledger_schema_ready:
            for statement in ledger_statements(table):
                self._conn().execute(statement)
            self._ledger_schema_ready = True
        return table

    def expected_index_names(self) -> dict[str, list[str]]:
        from sccli.store.sqlite_schema import schema_statements

        self._ledger()
        by_table = {table: key for key, table in self.names.items()}
        out: dict[str, list[str]] = {key: [] for key in self.names}
        for statement in [*schema_statements(self.names), *ledger_statements(self.names["migrations"])]:
            match = _INDEX_RE.search(statement)
            if match and match.group(2) in by_table:
                out[by_table[match.group(2)]].append(match.group(1))
        return {key: sorted(names) for key, names in out.items()}

    # -- datasets ---------------------------------------------------------------------------
    def count_datasets_by_status(self) -> dict[str, int]:
        rows = self._read(f"SELECT status, COUNT(*) FROM {self.names['datasets']} GROUP BY status")
        return {str(status): int(n) for status, n in rows}

    def insert_datasets(self, docs: Sequence[dict[str, Any]]) -> None:
        from sccli.errors import Conflict

        sql = f"INSERT INTO {self.names['datasets']} (uuid, status, updated_at, doc) VALUES (?, ?, ?, ?)"
        try:
            with self._write() as conn:
                conn.executemany(
                    sql, [(d["uuid"], d.get("status"), to_epoch(d.get("updated_at")), codec.dumps(d)) for d in docs]
                )
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"a dataset already exists: {exc}") from exc

    def find_datasets_page(
        self, statuses: Sequence[str] | None, after: str | None, limit: int, *, slim: bool = False
    ) -> list[dict[str, Any]]:
        clauses, params = ["uuid > ?"], [after or ""]
        if statuses is not None:
            statuses = list(statuses)
            # "+status": walk the uuid key in order instead of sorting every match of the status index per page.
            clauses.append(f"+status IN ({_marks(statuses)})" if statuses else "0")
            params.extend(statuses)
        columns = "uuid, status" if slim else "doc"
        sql = (
            f"SELECT {columns} FROM {self.names['datasets']} WHERE {' AND '.join(clauses)} ORDER "
            f"BY uuid LIMIT {int(limit)}"
        )
        rows = self._read(sql, params)
        if slim:
            return [{"uuid": uuid, "status": status} for uuid, status in rows]
        return [codec.loads(r[0]) for r in rows]

    def dataset_statuses(self, uuids: Sequence[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for chunk in _chunks(list(uuids)):
            sql = f"SELECT uuid, status FROM {self.names['datasets']} WHERE uuid IN ({_marks(chunk)})"
            out.update((uuid, status) for uuid, status in self._read(sql, list(chunk)))
        return out

    # -- jobs -------------------------------------------------------------------------------
    def find_active_jobs(self, dataset_uuids: Sequence[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for chunk in _chunks(list(dataset_uuids)):
            # "+status" keeps the planner on the dataset index: the status one would scan every pending job.
            sql = (
                f"SELECT job_id, dataset_uuid, job_type, status, created_at FROM {self.names['jobs']} "
                f"WHERE dataset_uuid IN ({_marks(chunk)}) AND +status IN ({_ACTIVE})"
            )
            out.extend(
                {
                    "job_id": job_id, "dataset_uuid": uuid, "job_type": job_type, "status": status,
                    "created_at": from_epoch(created),
                }
                for job_id, uuid, job_type, status, created in self._read(sql, list(chunk))
            )
        return out

    def job_states(self, job_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(list(job_ids)):
            sql = f"SELECT job_id, status, attempts FROM {self.names['jobs']} WHERE job_id IN ({_marks(chunk)})"
            for job_id, status, attempts in self._read(sql, list(chunk)):
                out[job_id] = {"status": status, "attempts": attempts}
        return out

    def insert_migration_batch(
        self, jobs: Sequence[dict[str, Any]], entries: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]]
    ) -> list[str]:
        from sccli.store.sqlite_schema import JOB_COLUMNS, column_values

        table = self._ledger()
        jobs_table = self.names["jobs"]
        # OR IGNORE: a job whose active_key another writer took meanwhile is left out, not the batch.
        insert = (
            f"INSERT OR IGNORE INTO {jobs_table} ({','.join(JOB_COLUMNS)}, doc) VALUES "
            f"({_marks([0] * (len(JOB_COLUMNS) + 1))})"
        )
        with self._write() as conn:
            before = conn.total_changes
            conn.executemany(insert, [[*column_values(doc), codec.dumps(doc)] for doc in jobs])
            skipped = (
                []
                if conn.total_changes - before == len(jobs)
                else _missing_ids(conn, jobs_table, [d["job_id"] for d in jobs])
            )
            left_out = set(skipped)
            conn.executemany(
                f"INSERT INTO {table} (key, migration_id, kind, dataset_uuid, job_id, started_at, rolled_back, doc) "
                "VALUES (?, ?, 'entry', ?, ?, ?, 0, ?)",
                [
                    (
                        e["entry_id"], e["migration_id"], e.get("dataset_uuid"), e.get("job_id"),
                        to_epoch(e.get("created_at")), codec.dumps(e),
                    )
                    for e in entries
                    if e.get("job_id") not in left_out
                ],
            )
            conn.executemany(
                f"INSERT INTO {self.names['events']} (job_id, at, doc) VALUES (?, ?, ?)",
                [
                    (ev.get("job_id"), to_epoch(ev.get("at")), codec.dumps(ev))
                    for ev in events
                    if ev.get("job_id") not in left_out
                ],
            )
        return skipped

    def delete_unstarted_jobs(self, job_ids: Sequence[str]) -> list[str]:
        jobs_table = self.names["jobs"]
        deleted: list[str] = []
        with self._write() as conn:
            for chunk in _chunks(list(job_ids)):
                # "+status": look the ids up by primary key, not by scanning every pending job.
                sql = (
                    f"DELETE FROM {jobs_table} WHERE job_id IN ({_marks(chunk)}) AND +status = ? AND "
                    "+attempts = 0 RETURNING job_id"
                )
                deleted.extend(r[0] for r in conn.execute(sql, [*chunk, JobStatus.PENDING.value]).fetchall())
        return deleted

    # -- ledger -----------------------------------------------------------------------------
    def insert_migration(self, doc: dict[str, Any]) -> None:
        table = self._ledger()
        with self._write() as conn:
            conn.execute(
                f"INSERT INTO {table} (key, migration_id, kind, started_at, doc) VALUES (?, ?, 'migration', ?, ?)",
                (doc["migration_id"], doc["migration_id"], to_epoch(doc.get("started_at")), codec.dumps(doc)),
            )

    def update_migration(self, migration_id: str, fields: dict[str, Any]) -> bool:
        table = self._ledger()
        with self._write() as conn:
            row = conn.execute(
                f"SELECT doc FROM {table} WHERE key = ? AND kind = 'migration'", (migration_id,)
            ).fetchone()
            if row is None:
                return False
            doc = codec.loads(row[0]) | fields
            conn.execute(f"UPDATE {table} SET doc = ? WHERE key = ?", (codec.dumps(doc), migration_id))
        return True

    def get_migration(self, migration_id: str) -> dict[str, Any] | None:
        rows = self._read(f"SELECT doc FROM {self._ledger()} WHERE key = ? AND kind = 'migration'", (migration_id,))
        return codec.loads(rows[0][0]) if rows else None

    def list_migrations(self, limit: int | None = None) -> list[dict[str, Any]]:
        sql = (
            f"SELECT doc FROM {self._ledger()} WHERE kind = 'migration' ORDER BY started_at DESC, key DESC LIMIT "
            f"{int(limit) if limit else -1}"
        )
        return [codec.loads(r[0]) for r in self._read(sql)]

    def find_migration_entries(
        self,
        migration_id: str | None = None,
        dataset_uuid: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        pending_only: bool = False,
    ) -> list[dict[str, Any]]:
        clauses, params = ["kind = 'entry'", "key > ?"], [after or ""]
        for column, value in (("migration_id", migration_id), ("dataset_uuid", dataset_uuid)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if pending_only:
            clauses.append("rolled_back = 0")
        sql = (
            f"SELECT doc FROM {self._ledger()} WHERE {' AND '.join(clauses)} ORDER BY key LIMIT "
            f"{int(limit) if limit else -1}"
        )
        return [codec.loads(r[0]) for r in self._read(sql, params)]

    def update_migration_entries(self, entry_ids: Sequence[str], fields: dict[str, Any]) -> int:
        table = self._ledger()
        patch = codec.dumps(fields)
        total = 0
        with self._write() as conn:
            for chunk in _chunks(list(entry_ids)):
                sql = (
                    f"UPDATE {table} SET doc = json_patch(doc, ?), rolled_back = COALESCE(?, rolled_back) WHERE kind = "
                    f"'entry' AND key IN ({_marks(chunk)})"
                )
                flag = None if "rolled_back" not in fields else int(bool(fields["rolled_back"]))
                total += conn.execute(sql, [patch, flag, *chunk]).rowcount
        return total


def _missing_ids(conn: sqlite3.Connection, table: str, job_ids: list[str]) -> list[str]:
    """Which of ``job_ids`` are not in the jobs table (left out by INSERT OR IGNORE)."""
    present: set[str] = set()
    for chunk in _chunks(job_ids):
        rows = conn.execute(f"SELECT job_id FROM {table} WHERE job_id IN ({_marks(chunk)})", list(chunk)).fetchall()
        present.update(r[0] for r in rows)
    return [j for j in job_ids if j not in present]
