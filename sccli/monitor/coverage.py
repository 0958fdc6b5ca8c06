"""Which job types have ready jobs but no live service to run them, and for how long.

A type is served by a live service that is not draining, lists the type (or serves every type)
and, for types that need the internet, is not offline. The gap lasts since the later of the
oldest ready job's ``run_after`` and the last heartbeat of any service that served the type.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sccli.domain import JobStatus, ServiceState, is_live_service, job_type_config
from sccli.store.base import JobQuery, Store


def serves(worker: dict[str, Any], job_type: str) -> bool:
    """Whether this service would claim jobs of ``job_type`` (ignoring whether it is alive)."""
    types = worker.get("types")
    if types and job_type not in types:
        return False
    return not (worker.get("offline") and _needs_internet(job_type))


def _needs_internet(job_type: str) -> bool:
    try:
        return bool(job_type_config(job_type).requires_internet)
    except (KeyError, ValueError):  # a plugin type: no table entry
        return False


def paused_job_types(store: Store) -> dict[str, dict[str, Any]]:
    """Paused types (``"*"`` for all) from the queue controls; empty when pausing is unavailable."""
    try:
        from sccli.pause import paused_types
    except ImportError:
        return {}
    return paused_types(store)


def unserved_types(store: Store, now: datetime, stale_after_seconds: float) -> list[dict[str, Any]]:
    """``[{job_type, ready, since, seconds}]`` for each type with ready jobs that no live service
    serves; paused types are left out (nobody is meant to run them)."""
    paused = paused_job_types(store)
    if "*" in paused:
        return []
    workers = store.list_workers()
    live = [
        w for w in workers if is_live_service(w, now, stale_after_seconds) and w.get("status") != ServiceState.DRAINING
    ]
    out = []
    for row in store.stats.pending_backlog(now):
        job_type = str(row["job_type"])
        if not row["ready"] or job_type in paused or any(serves(w, job_type) for w in live):
            continue
        since = _oldest_ready(store, job_type, now) or now
        beats = [w["heartbeat_at"] for w in workers if w.get("heartbeat_at") is not None and serves(w, job_type)]
        if beats:
            since = max(since, max(beats))
        out.append(
            {
                "job_type": job_type, "ready": int(row["ready"]), "since": since,
                "seconds": max(0.0, (now - since).total_seconds()),
            }
        )
    return out


def _oldest_ready(store: Store, job_type: str, now: datetime) -> datetime | None:
    query = JobQuery(status=[JobStatus.PENDING.value], job_type=[job_type], run_after_before=now)
    found = store.find_jobs(query, sort=(("run_after", 1),), limit=1)
    return found[0].get("run_after") if found else None


def type_limit_rows(store: Store) -> list[dict[str, Any]]:
    """The fleet-wide limits of each limited type (``sc queue set``) with what holds it now."""
    from sccli.controls import read_limits
    from sccli.gate import why_held

    rows = []
    for job_type, limits in sorted(read_limits(store).items()):
        held = why_held(store, job_type)
        rows.append({**limits.as_row(), "held": held.detail if held else None})
    return rows
