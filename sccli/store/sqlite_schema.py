"""SQLite tables and indexes (created idempotently on first use)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sccli.clock import to_epoch
from sccli.store.base import ClaimFilter

JOB_COLUMNS = (
    "job_id", "dataset_uuid", "job_type", "status", "priority", "run_after", "created_at",
    "updated_at", "started_at", "completed_at", "heartbeat_at", "worker_id", "lease_token",
    "active_key", "attempts", "max_attempts", "cancel_requested", "parent_job_id", "migration_id",
)
TIME_COLUMNS = frozenset(
    {"run_after", "created_at", "updated_at", "started_at", "completed_at", "heartbeat_at"}
)


def schema_statements(names: dict[str, str]) -> list[str]:
    """DDL for every table and index, safe to run again."""
    jobs, datasets, events, workers = names["jobs"], names["datasets"], names["events"], names["workers"]
    controls = names["controls"]
    return [
        f"""CREATE TABLE IF NOT EXISTS {jobs} (
            job_id TEXT PRIMARY KEY, dataset_uuid TEXT NOT NULL, job_type TEXT NOT NULL,
            status TEXT NOT NULL, priority INTEGER NOT NULL, run_after REAL NOT NULL,
            created_at REAL NOT NULL, updated_at REAL, started_at REAL, completed_at REAL,
            heartbeat_at REAL, worker_id TEXT, lease_token TEXT, active_key TEXT UNIQUE,
            attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL,
            cancel_requested INTEGER NOT NULL DEFAULT 0, parent_job_id TEXT, migration_id TEXT,
            doc TEXT NOT NULL)""",
        f"CREATE INDEX IF NOT EXISTS ix_{jobs}_claim ON {jobs}(status, priority, created_at, run_after)",
        # the sweeper's promotion: due scheduled jobs, earliest start first (never walks later ones);
        # partial, so the claim and every query about pending jobs keep their plans
        f"CREATE INDEX IF NOT EXISTS ix_{jobs}_scheduled ON {jobs}(run_after) WHERE status = 'scheduled'",
        f"CREATE INDEX IF NOT EXISTS ix_{jobs}_dataset ON {jobs}(dataset_uuid, created_at)",
        f"CREATE INDEX IF NOT EXISTS ix_{jobs}_status_updated ON {jobs}(status, updated_at)",
        f"CREATE INDEX IF NOT EXISTS ix_{jobs}_status_completed ON {jobs}(status, completed_at)",
        f"CREATE INDEX IF NOT EXISTS ix_{jobs}_completed ON {jobs}(completed_at)",
        f"CREATE INDEX IF NOT EXISTS ix_{jobs}_created ON {jobs}(created_at)",
        # listings by status or type, newest first, served by an index (no sort of the table)
        f"CREATE INDEX IF NOT EXISTS ix_{jobs}_status_created ON {jobs}(status, created_at)",
        f"CREATE INDEX IF NOT EXISTS ix_{jobs}_type_created ON {jobs}(job_type, created_at)",
        # monitor: index-only queue counts
        f"CREATE INDEX IF NOT EXISTS ix_{jobs}_status_type ON {jobs}(status, job_type)",
        # monitor: window figures (counts, durations, retries, per-day) read from the index alone
        f"CREATE INDEX IF NOT EXISTS ix_{jobs}_type_finished ON {jobs}(job_type, completed_at, "
        "status, started_at, attempts)",
        # monitor: only jobs whose errors mention a timeout (sqlite_stats.TIMED_OUT, verbatim)
        f'CREATE INDEX IF NOT EXISTS ix_{jobs}_timed_out ON {jobs}(completed_at) WHERE instr(doc, '
        '\'"kind":"timeout"\') > 0',
        f"CREATE INDEX IF NOT EXISTS ix_{jobs}_worker ON {jobs}(worker_id, status)",
        f"CREATE INDEX IF NOT EXISTS ix_{jobs}_parent ON {jobs}(parent_job_id)",
        f"CREATE INDEX IF NOT EXISTS ix_{jobs}_migration ON {jobs}(migration_id)",
        f"""CREATE TABLE IF NOT EXISTS {datasets} (
            uuid TEXT PRIMARY KEY, status TEXT, updated_at REAL, doc TEXT NOT NULL)""",
        f"CREATE INDEX IF NOT EXISTS ix_{datasets}_status ON {datasets}(status)",
        f"""CREATE TABLE IF NOT EXISTS {events} (
            id INTEGER PRIMARY KEY, job_id TEXT, at REAL, doc TEXT NOT NULL)""",
        f"CREATE INDEX IF NOT EXISTS ix_{events}_job ON {events}(job_id, at)",
        f"CREATE INDEX IF NOT EXISTS ix_{events}_at ON {events}(at)",  # retention events_days
        f"""CREATE TABLE IF NOT EXISTS {workers} (
            worker_id TEXT PRIMARY KEY, heartbeat_at REAL, doc TEXT NOT NULL)""",
        f"CREATE TABLE IF NOT EXISTS {controls} (name TEXT PRIMARY KEY, doc TEXT NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS {names["tallies"]} (
            day INTEGER PRIMARY KEY, version INTEGER NOT NULL DEFAULT 0, hold_until REAL, counts TEXT, hist TEXT)""",
    ]


def column_values(doc: dict[str, Any], columns: Sequence[str] = JOB_COLUMNS) -> list[Any]:
    """A job document's values for ``columns``, as the table stores them (epoch times, 0/1 flags)."""
    values: list[Any] = []
    for name in columns:
        value = doc.get(name)
        if name in TIME_COLUMNS:
            value = to_epoch(value)
        elif name == "cancel_requested":
            value = 1 if value else 0
        values.append(value)
    return values


def narrowed(sql: str, params: list[Any], narrow: ClaimFilter) -> tuple[str, list[Any]]:
    """The claim's SQL and parameters narrowed by ``narrow`` (fair sharing)."""
    if narrow.priority is not None:
        sql += " AND priority = ?"
        params = [*params, narrow.priority]
    if narrow.skip_users:
        marks = ",".join("?" * len(narrow.skip_users))
        sql += f" AND (json_extract(doc, '$.user') IS NULL OR json_extract(doc, '$.user') NOT IN ({marks}))"
        params = [*params, *narrow.skip_users]
    return sql, params
