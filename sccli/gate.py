"""The gate of a capped or rate-limited job type: leased slots taken before the claim.

One ``gate:TYPE`` document in ``queue_controls`` per gated type holds the slots in use
(``holders``: the lease token a claim will carry, who took it, when) and the recent starts
(``starts``). A claim of the type first takes a slot by a compare-and-swap on the document's
``version`` (:meth:`Store.swap_control`: one conditional update, race-free on MongoDB without
transactions and on SQLite alike), then claims with that slot's token as its lease token; a
claim that finds nothing gives the slot back. A slot whose job no longer runs under its token
(finished, failed, re-queued from a dead service by the sweeper) is reclaimed by the next
claim that finds the type full, so the store never shows more running jobs of the type than
``max_running``, whatever the number of services and their timing.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sccli.controls import TypeLimits, ensure_gate, gate_document, type_limits
from sccli.domain import JobStatus
from sccli.store.base import JobQuery, Store

#: A claim of some types past the gate (the fair share's): ``(types, lease_token, now)``, the job or None.
PassedClaim = Callable[[Sequence[str], "str | None", "datetime | None"], "dict[str, Any] | None"]
#: A slot younger than this is kept even if no running job carries its token yet: its claim
#: may still be on its way to the store.
GRACE_SECONDS = 30.0
#: Compare-and-swap attempts before a claim gives up until its next poll (contention).
_SWAPS = 25


@dataclass(frozen=True)
class Held:
    """Why a gated type may not start a job now."""

    job_type: str
    why: str  # "cap" | "rate" | "busy"
    detail: str


def gates(controls: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Gate documents by job type."""
    return {doc["job_type"]: doc for doc in controls if doc.get("kind") == "gate"}


def _read(store: Store, job_type: str) -> dict[str, Any]:
    found = gates(store.list_controls()).get(job_type)
    if found is None:
        ensure_gate(store, job_type)
        found = gates(store.list_controls()).get(job_type) or gate_document(job_type)
    return found


def _running_tokens(store: Store, job_type: str) -> set[str]:
    running = store.find_jobs(JobQuery(status=[JobStatus.RUNNING.value], job_type=[job_type]), sort=())
    return {str(j.get("lease_token")) for j in running}


def check(
    store: Store, limits: TypeLimits, doc: dict[str, Any], now: float, *, reconcile: bool
) -> tuple[list[Any], list[Any], Held | None]:
    """The holders and starts still in force, and what holds the type (None: a slot is free)."""
    holders, starts = list(doc.get("holders") or []), list(doc.get("starts") or [])
    if limits.rate is not None:
        starts = [s for s in starts if s["at"] > now - limits.rate.seconds]
    if limits.max_running is not None and len(holders) >= limits.max_running and reconcile:
        live = _running_tokens(store, limits.job_type)
        # A slot marked with its job is done when that job no longer runs under its token; an
        # unmarked one may have its claim still on the way: kept for GRACE_SECONDS.
        holders = [h for h in holders if h["token"] in live or (not h.get("job_id") and h["at"] > now - GRACE_SECONDS)]
    if limits.max_running is not None and len(holders) >= limits.max_running:
        return (
            holders,
            starts,
            Held(
                limits.job_type, "cap", f"max_running {limits.max_running} reached ({len(holders)} running fleet-wide)"
            ),
        )
    if limits.rate is not None and len(starts) >= limits.rate.count:
        wait = starts[0]["at"] + limits.rate.seconds - now
        return (
            holders,
            starts,
            Held(limits.job_type, "rate", f"rate {limits.rate} reached (next start in {max(wait, 0):.1f}s)"),
        )
    return holders, starts, None


def take(store: Store, limits: TypeLimits, token: str, worker: str, at: datetime) -> Held | None:
    """Take a slot (and a start of the rate, at ``at``: the claim's ``started_at``) for a claim
    carrying ``token``; None when taken, else what holds the type."""
    now = at.timestamp()
    for _ in range(_SWAPS):
        doc = _read(store, limits.job_type)
        holders, starts, held = check(store, limits, doc, now, reconcile=True)
        if held is not None:
            return held
        if limits.max_running is not None:
            holders.append({"token": token, "worker_id": worker, "at": now})
        if limits.rate is not None:
            starts.append({"token": token, "at": now})
        version = int(doc.get("version") or 0)
        if store.swap_control({**doc, "version": version + 1, "holders": holders, "starts": starts}, version):
            return None
    return Held(limits.job_type, "busy", "the gate is contended; the next poll tries again")


def give_back(store: Store, job_type: str, token: str) -> None:
    """Return the slot and the start taken for ``token`` (its claim found no job)."""

    def change(doc: dict[str, Any]) -> dict[str, Any]:
        return {
            "holders": [h for h in doc.get("holders") or [] if h["token"] != token],
            "starts": [s for s in doc.get("starts") or [] if s["token"] != token],
        }

    _swap(store, job_type, change)


def mark(store: Store, job_type: str, token: str, job_id: str) -> None:
    """Note on the slot of ``token`` the job its claim took: from now on the slot is free as
    soon as that job no longer runs under the token (finished, failed, re-queued)."""

    def change(doc: dict[str, Any]) -> dict[str, Any]:
        return {"holders": [{**h, "job_id": job_id} if h["token"] == token else h for h in doc.get("holders") or []]}

    _swap(store, job_type, change)


def _swap(store: Store, job_type: str, change: Any) -> None:
    for _ in range(_SWAPS):
        doc = _read(store, job_type)
        version = int(doc.get("version") or 0)
        if store.swap_control({**doc, **change(doc), "version": version + 1}, version):
            return


def why_held(store: Store, job_type: str) -> Held | None:
    """What holds ``job_type`` now (for ``sc job show``), without taking anything."""
    controls = store.list_controls()
    limits = type_limits(controls).get(job_type)
    if limits is None or not limits.gated:
        return None
    doc = gates(controls).get(job_type) or gate_document(job_type)
    return check(store, limits, doc, store.now().timestamp(), reconcile=True)[2]


def gated_limits(controls: Sequence[dict[str, Any]], types: Sequence[str]) -> dict[str, TypeLimits]:
    """The limits of those of ``types`` that are capped or rate-limited (``queue_controls`` documents)."""
    return {t: lim for t, lim in type_limits(controls).items() if lim.gated and t in types}


def claim_gated(
    store: Store, claim: PassedClaim, worker: str, types: Sequence[str], limits: dict[str, TypeLimits]
) -> dict[str, Any] | None:
    """Claim the next job of ``types`` in queue order by ``claim``, passing the gate of a gated type first.

    The next ready job is looked at; an ungated type is claimed as usual (among the ungated
    types); a gated one takes a slot, then claims that type with the slot's token. A type
    whose gate is shut is left out and the next job is looked at."""
    candidates = list(types)
    for _ in range(len(limits) + 3):
        now = store.now()
        query = JobQuery(status=[JobStatus.PENDING.value], job_type=candidates, run_after_before=now)
        head = store.find_jobs(query, sort=(("priority", 1), ("created_at", 1)), limit=1)
        if not head:
            return None
        job_type = str(head[0]["job_type"])
        if job_type not in limits:
            return claim([t for t in candidates if t not in limits], None, None)
        token, at = uuidlib.uuid4().hex, store.now()
        if take(store, limits[job_type], token, worker, at) is not None:
            candidates.remove(job_type)
            if not candidates:
                return None
            continue
        job = claim([job_type], token, at)
        if job is not None:
            mark(store, job_type, token, str(job["job_id"]))
            return job
        give_back(store, job_type, token)
    return None
