"""Stale running jobs: their classification for display and their fenced recovery."""

from __future__ import annotations

from datetime import datetime
from typing import Any

#: Why a running job is stale (the store's ``stale_reason``), in words.
REASONS = {
    "service_dead": "service dead (its worker stopped heartbeating or is gone)",
    "job_silent": "service alive but the job stopped heartbeating",
    "over_timeout": "running past its timeout",
}
_FIELDS = (
    "job_id", "job_type", "dataset_uuid", "worker_id", "host", "pid", "attempts", "max_attempts", "timeout_minutes",
    "started_at", "heartbeat_at",
)


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else round((now - then).total_seconds(), 3)


def describe(job: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The fields on-call needs about one stale job, with ages in seconds."""
    out = {k: job.get(k) for k in _FIELDS}
    out["stale_reason"] = job["stale_reason"]
    out["heartbeat_age_seconds"] = _age(now, job.get("heartbeat_at"))
    out["running_seconds"] = _age(now, job.get("started_at"))
    out["retry_left"] = int(job.get("attempts") or 0) < int(job.get("max_attempts") or 1)
    return out


def recover(queue: Any, job: dict[str, Any], actor: str) -> dict[str, Any] | None:
    """Re-queue one stale job (or fail it when its attempts are used up), fenced by its lease token.

    Uses the queue's failed-attempt transition, as ``JobQueue.requeue_stale`` does; a job whose
    lease changed since it was read is left alone (None).
    """
    reason = job["stale_reason"]
    kind = "timeout" if reason == "over_timeout" else "stale"
    error = f"recovered by sc monitor stale: {REASONS[reason]} (worker {job.get('worker_id')})"
    return queue.fail_attempt(job, error, kind=kind, retry=True, actor=actor)
