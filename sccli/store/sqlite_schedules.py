"""SQLite side of ``store.schedules`` and ``store.leases`` (:mod:`~sccli.store.contract_schedules`,
:mod:`~sccli.store.contract_leases`): one row per document, the fenced fields as columns, the
document as JSON; every conditional write reads and writes inside one ``BEGIN IMMEDIATE``."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sccli.clock import as_utc, to_epoch
from sccli.errors import Conflict, InvalidInput
from sccli.store import codec
from sccli.store.contract_leases import LeaseContract
from sccli.store.contract_schedules import SCHEDULE_EXPECTABLE, ScheduleContract

Read = Callable[..., list[sqlite3.Row]]
Write = Callable[[], AbstractContextManager[sqlite3.Connection]]


def schema_statements(schedules: str, leases: str) -> list[str]:
    """DDL of both tables, safe to run again."""
    return [
        f"""CREATE TABLE IF NOT EXISTS {schedules} (
            schedule_id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, paused INTEGER NOT NULL DEFAULT 0,
            next_run_at REAL, doc TEXT NOT NULL)""",
        f"CREATE INDEX IF NOT EXISTS ix_{schedules}_due ON {schedules}(paused, next_run_at)",
        f"CREATE TABLE IF NOT EXISTS {leases} (name TEXT PRIMARY KEY, holder TEXT, expires_at REAL, doc TEXT NOT NULL)",
    ]


def same(a: Any, b: Any) -> bool:
    """Equality of stored values, datetimes compared as instants."""
    if isinstance(a, datetime) and isinstance(b, datetime):
        return as_utc(a) == as_utc(b)
    return bool(a == b)


class SqliteSchedules(ScheduleContract):
    """``job_schedules`` on SQLite."""

    def __init__(self, read: Read, write: Write, table: str) -> None:
        self._read, self._write, self.table = read, write, table

    def insert(self, doc: dict[str, Any]) -> None:
        try:
            with self._write() as conn:
                conn.execute(
                    f"INSERT INTO {self.table} (schedule_id, name, paused, next_run_at, doc) VALUES (?, ?, ?, ?, ?)",
                    _row(doc),
                )
        except sqlite3.IntegrityError:
            raise Conflict(f"a schedule named {doc.get('name')!r} already exists") from None

    def get(self, schedule_id: str) -> dict[str, Any] | None:
        return self._one("schedule_id", schedule_id)

    def by_name(self, name: str) -> dict[str, Any] | None:
        return self._one("name", name)

    def _one(self, column: str, value: str) -> dict[str, Any] | None:
        rows = self._read(f"SELECT doc FROM {self.table} WHERE {column} = ?", (value,))
        return codec.loads(rows[0][0]) if rows else None

    def all(self) -> list[dict[str, Any]]:
        return [codec.loads(r[0]) for r in self._read(f"SELECT doc FROM {self.table} ORDER BY name")]

    def due(self, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
        sql = f"SELECT doc FROM {self.table} WHERE paused = 0 AND next_run_at <= ? ORDER BY next_run_at LIMIT ?"
        return [codec.loads(r[0]) for r in self._read(sql, (to_epoch(now), int(limit)))]

    def update(
        self,
        schedule_id: str,
        fields: dict[str, Any],
        *,
        expect: dict[str, Any] | None = None,
        unset: Sequence[str] = (),
    ) -> bool:
        bad = set(expect or {}) - set(SCHEDULE_EXPECTABLE)
        if bad:
            raise InvalidInput(f"cannot fence a schedule write on {sorted(bad)}")
        with self._write() as conn:
            row = conn.execute(f"SELECT doc FROM {self.table} WHERE schedule_id = ?", (schedule_id,)).fetchone()
            if row is None:
                return False
            doc = codec.loads(row[0])
            if not all(same(doc.get(k), v) for k, v in (expect or {}).items()):
                return False
            doc.update(fields)
            for key in unset:
                doc.pop(key, None)
            try:
                conn.execute(
                    f"UPDATE {self.table} SET name = ?, paused = ?, next_run_at = ?, doc = ? WHERE schedule_id = ?",
                    [*_row(doc)[1:], schedule_id],
                )
            except sqlite3.IntegrityError:
                raise Conflict(f"a schedule named {doc.get('name')!r} already exists") from None
        return True

    def delete(self, schedule_id: str) -> bool:
        with self._write() as conn:
            return conn.execute(f"DELETE FROM {self.table} WHERE schedule_id = ?", (schedule_id,)).rowcount > 0


class SqliteLeases(LeaseContract):
    """``job_leases`` on SQLite."""

    def __init__(self, read: Read, write: Write, table: str) -> None:
        self._read, self._write, self.table = read, write, table

    def acquire(
        self, name: str, holder: str, now: datetime, until: datetime, fields: dict[str, Any] | None = None
    ) -> bool:
        with self._write() as conn:
            row = conn.execute(f"SELECT holder, expires_at, doc FROM {self.table} WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] != holder and row[1] is not None and row[1] > to_epoch(now):
                return False
            doc = {**(codec.loads(row[2]) if row is not None else {}), **(fields or {})}
            doc.update(name=name, holder=holder, expires_at=until)
            conn.execute(
                f"""INSERT INTO {self.table} (name, holder, expires_at, doc) VALUES (?, ?, ?, ?)
                    ON CONFLICT(name) DO UPDATE
                    SET holder = excluded.holder, expires_at = excluded.expires_at, doc = excluded.doc""",
                (name, holder, to_epoch(until), codec.dumps(doc)),
            )
        return True

    def release(self, name: str, holder: str, now: datetime, fields: dict[str, Any] | None = None) -> bool:
        with self._write() as conn:
            row = conn.execute(f"SELECT doc FROM {self.table} WHERE name = ? AND holder = ?", (name, holder)).fetchone()
            if row is None:
                return False
            doc = {**codec.loads(row[0]), **(fields or {}), "expires_at": now}
            conn.execute(
                f"UPDATE {self.table} SET expires_at = ?, doc = ? WHERE name = ?",
                (to_epoch(now), codec.dumps(doc), name),
            )
        return True

    def get(self, name: str) -> dict[str, Any] | None:
        rows = self._read(f"SELECT doc FROM {self.table} WHERE name = ?", (name,))
        return codec.loads(rows[0][0]) if rows else None


def _row(doc: dict[str, Any]) -> list[Any]:
    return [
        doc["schedule_id"],
        doc["name"],
        1 if doc.get("paused") else 0,
        to_epoch(doc.get("next_run_at")),
        codec.dumps(doc),
    ]
