"""Pausing the queue: stored in the store, so every service on every host honours it.

A pause names a job type, or ``"*"`` for every type. :meth:`sccli.queue.JobQueue.claim_next`
claims nothing that is paused; running jobs finish. Each pause and resume is recorded in
``job_events`` (``entity: "queue"``) with its actor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sccli.clock import utcnow
from sccli.events import queue_event
from sccli.store.base import Store

#: The pause of every job type.
ALL_TYPES = "*"
_PREFIX = "pause:"


def paused_types(store: Store) -> dict[str, dict[str, Any]]:
    """What is paused: job type (or ``"*"``) → ``{reason, actor, at}``."""
    return paused_in(store.list_controls())


def paused_in(controls: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """:func:`paused_types` of ``queue_controls`` documents already read."""
    return {
        doc["job_type"]: {"reason": doc.get("reason"), "actor": doc.get("actor"), "at": doc.get("at")}
        for doc in controls
        if doc.get("kind") == "pause"
    }


def is_paused(paused: Mapping[str, Any], job_type: str) -> bool:
    """Whether ``job_type`` may not be claimed under ``paused`` (from :func:`paused_types`)."""
    return ALL_TYPES in paused or job_type in paused


def unpaused(types: Iterable[str], paused: Mapping[str, Any]) -> list[str]:
    """``types`` less the paused ones."""
    return [t for t in types if not is_paused(paused, t)]


def pause_types(store: Store, types: list[str] | None, reason: str | None, actor: str) -> dict[str, dict[str, Any]]:
    """Pause ``types`` (None or empty: every type); return what is paused now."""
    now = utcnow()
    for job_type in types or [ALL_TYPES]:
        store.put_control(
            {
                "name": _PREFIX + job_type, "kind": "pause", "job_type": job_type, "reason": reason, "actor": actor,
                "at": now,
            }
        )
        store.insert_event(queue_event(job_type, "active", "paused", at=now, actor=actor, reason=reason or "paused"))
    return paused_types(store)


def resume_types(store: Store, types: list[str] | None, actor: str) -> list[str]:
    """Resume ``types`` (None or empty: everything paused, ``"*"`` included); the types resumed."""
    now = utcnow()
    names = list(types) if types else list(paused_types(store))
    resumed = [job_type for job_type in names if store.delete_control(_PREFIX + job_type)]
    for job_type in resumed:
        store.insert_event(queue_event(job_type, "paused", "active", at=now, actor=actor, reason="resumed"))
    return resumed


def paused_rows(store: Store) -> list[dict[str, Any]]:
    """One row per pause with the ready jobs it holds back (``*``: all of them)."""
    paused = paused_types(store)
    if not paused:
        return []
    ready = {str(b["job_type"]): int(b["ready"]) for b in store.stats.pending_backlog(utcnow())}
    return [
        {
            "job_type": job_type, **info,
            "ready": sum(ready.values()) if job_type == ALL_TYPES else ready.get(job_type, 0),
        }
        for job_type, info in sorted(paused.items())
    ]
