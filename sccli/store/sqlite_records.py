"""SQLite side of the store's smaller collections: datasets, queue controls, workers (a mixin of
:class:`~sccli.store.sqlite.SqliteStore`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sccli.clock import to_epoch
from sccli.errors import Conflict
from sccli.store import codec


class SqliteRecords:
    """Datasets (the portal's ``visstoredatas``), queue controls and service heartbeats."""

    names: dict[str, str]
    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _read: Callable[..., list[sqlite3.Row]]

    # -- datasets ---------------------------------------------------------------------------
    def insert_dataset(self, doc: dict[str, Any]) -> None:
        sql = f"INSERT INTO {self.names['datasets']} (uuid, status, updated_at, doc) VALUES (?, ?, ?, ?)"
        try:
            with self._write() as conn:
                conn.execute(sql, (doc["uuid"], doc.get("status"), to_epoch(doc.get("updated_at")), codec.dumps(doc)))
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"dataset {doc['uuid']} already exists") from exc

    def get_dataset(self, uuid: str) -> dict[str, Any] | None:
        rows = self._read(f"SELECT doc FROM {self.names['datasets']} WHERE uuid = ?", (uuid,))
        return codec.loads(rows[0][0]) if rows else None

    def find_datasets(
        self,
        statuses: Sequence[str] | None = None,
        uuids: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        clauses, params = [], []
        for column, values in (("status", statuses), ("uuid", uuids)):
            if values is not None:
                values = list(values)
                clauses.append(f"{column} IN ({','.join('?' * len(values))})" if values else "0")
                params.extend(values)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        sql = f"SELECT doc FROM {self.names['datasets']}{where} ORDER BY uuid LIMIT {int(limit) if limit else -1}"
        return [codec.loads(r[0]) for r in self._read(sql, params)]

    def find_dataset_uuids(self, user: str | None, name_contains: str | None, limit: int) -> list[str]:
        clauses, params = ["1"], []
        if user is not None:
            clauses.append("json_extract(doc, '$.user') = ?")
            params.append(user)
        if name_contains is not None:  # instr, not LIKE: % and _ in the text are plain characters
            clauses.append("instr(lower(json_extract(doc, '$.name')), lower(?)) > 0")
            params.append(name_contains)
        sql = f"SELECT uuid FROM {self.names['datasets']} WHERE {' AND '.join(clauses)} LIMIT {int(limit)}"
        return [str(r[0]) for r in self._read(sql, params)]

    def update_dataset(self, uuid: str, expect_status: str | None, fields: dict[str, Any]) -> bool:
        table = self.names["datasets"]
        with self._write() as conn:
            row = conn.execute(f"SELECT doc FROM {table} WHERE uuid = ?", (uuid,)).fetchone()
            if row is None:
                return False
            doc = codec.loads(row[0])
            if expect_status is not None and doc.get("status") != expect_status:
                return False
            doc.update(fields)
            conn.execute(
                f"UPDATE {table} SET status = ?, updated_at = ?, doc = ? WHERE uuid = ?",
                (doc.get("status"), to_epoch(doc.get("updated_at")), codec.dumps(doc), uuid),
            )
        return True

    # -- queue controls ---------------------------------------------------------------------
    def list_controls(self) -> list[dict[str, Any]]:
        return [codec.loads(r[0]) for r in self._read(f"SELECT doc FROM {self.names['controls']} ORDER BY name")]

    def put_control(self, doc: dict[str, Any]) -> None:
        with self._write() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO {self.names['controls']} (name, doc) VALUES (?, ?)",
                (doc["name"], codec.dumps(doc)),
            )

    def delete_control(self, name: str) -> bool:
        with self._write() as conn:
            return bool(conn.execute(f"DELETE FROM {self.names['controls']} WHERE name = ?", (name,)).rowcount)

    def swap_control(self, doc: dict[str, Any], version: int | None) -> bool:
        table = self.names["controls"]
        with self._write() as conn:
            if version is None:
                sql = f"INSERT OR IGNORE INTO {table} (name, doc) VALUES (?, ?)"
                return bool(conn.execute(sql, (doc["name"], codec.dumps(doc))).rowcount)
            sql = f"UPDATE {table} SET doc = ? WHERE name = ? AND json_extract(doc, '$.version') = ?"
            return bool(conn.execute(sql, (codec.dumps(doc), doc["name"], version)).rowcount)

    # -- workers ----------------------------------------------------------------------------
    def upsert_worker(self, doc: dict[str, Any]) -> None:
        sql = f"INSERT OR REPLACE INTO {self.names['workers']} (worker_id, heartbeat_at, doc) VALUES (?, ?, ?)"
        with self._write() as conn:
            conn.execute(sql, (doc["worker_id"], to_epoch(doc.get("heartbeat_at")), codec.dumps(doc)))

    def list_workers(self) -> list[dict[str, Any]]:
        rows = self._read(f"SELECT doc FROM {self.names['workers']} ORDER BY heartbeat_at DESC")
        return [codec.loads(r[0]) for r in rows]

    def delete_worker(self, worker_id: str) -> None:
        with self._write() as conn:
            conn.execute(f"DELETE FROM {self.names['workers']} WHERE worker_id = ?", (worker_id,))
