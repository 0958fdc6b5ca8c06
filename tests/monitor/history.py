"""Hand-built job histories with known timestamps (inserted directly, no queue involved)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sccli.store.base import Store

#: The pinned "now" of the monitor in store-level tests.
NOW = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)


def ago(seconds: float = 0, *, minutes: float = 0, hours: float = 0, days: float = 0, now: datetime = NOW) -> datetime:
    return now - timedelta(seconds=seconds, minutes=minutes, hours=hours, days=days)


def job(
    job_type: str = "dataset_conversion",
    status: str = "completed",
    *,
    completed_at: datetime | None = None,
    duration: float | None = 60.0,
    attempts: int = 1,
    max_attempts: int = 2,
    error: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    dataset_uuid: str | None = None,
    worker_id: str | None = "w1",
    started_at: datetime | None = None,
    heartbeat_at: datetime | None = None,
    timeout_minutes: int = 60,
    updated_at: datetime | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """A job document; finished jobs get started_at = completed_at - duration."""
    if started_at is None and completed_at is not None and duration is not None:
        started_at = completed_at - timedelta(seconds=duration)
    created = created_at or (started_at or completed_at or NOW) - timedelta(seconds=5)
    return {
        "job_id": str(uuid.uuid4()), "dataset_uuid": dataset_uuid or str(uuid.uuid4()), "job_type": job_type,
        "status": status, "priority": 2, "parameters": {}, "attempts": attempts, "max_attempts": max_attempts,
        "timeout_minutes": timeout_minutes, "created_at": created,
        "updated_at": updated_at or completed_at or heartbeat_at or created, "started_at": started_at,
        "completed_at": completed_at, "run_after": created, "worker_id": worker_id, "pid": 100, "host": "h1",
        "lease_token": uuid.uuid4().hex if status == "running" else None, "heartbeat_at": heartbeat_at,
        "cancel_requested": False, "progress_percentage": 0, "progress_message": None, "result": None, "error": error,
        "errors": errors or [], "logs": [], "parent_job_id": None, "created_by": "test", "migration_id": None,
    }


def insert(store: Store, *docs: dict[str, Any]) -> list[str]:
    for doc in docs:
        store.insert_job(doc)
    return [d["job_id"] for d in docs]


def worker(
    store: Store, worker_id: str, heartbeat_at: datetime, status: str = "running", running: list[str] | None = None
) -> None:
    store.upsert_worker(
        {
            "worker_id": worker_id, "host": "h1", "pid": 1, "started_at": heartbeat_at - timedelta(hours=1),
            "heartbeat_at": heartbeat_at, "status": status, "types": None, "slots": 2, "offline": False,
            "running_jobs": running or [], "version": "test",
        }
    )


def timeout_error(attempt: int = 1) -> dict[str, Any]:
    return {"attempt": attempt, "at": NOW, "error": "timed out", "worker": "w1", "kind": "timeout"}


def plain_error(attempt: int = 1) -> dict[str, Any]:
    return {"attempt": attempt, "at": NOW, "error": "boom", "worker": "w1", "kind": "error"}
