"""Fair sharing between users inside a priority: a claim round-robins over the datasets' owners.

Each job carries its dataset's ``user`` (copied at creation). The store keeps the users served
most recently (``fair:users`` in ``queue_controls``, newest first). When the next job in line
belongs to one of them, the claim first looks, at that job's priority, for a job of a user
served less recently (skipping the ``k`` most recent users, ``k`` from all of them down to one),
so one user's 10,000 uploads queued first do not hold every other user's jobs behind them: with
``U`` users with ready work at a priority, each gets about one start in every ``U`` (up to
:data:`RECENT` users; beyond that the others share first-come first-served). Priorities still
come first, and jobs without a user are never passed over. The list is last-writer-wins: two
services claiming at once may both serve the same user, which fairness tolerates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sccli.domain import JobStatus
from sccli.store.base import ClaimFilter, JobQuery, Store

if TYPE_CHECKING:
    from sccli.claiming import ClaimWrite

_NAME = "fair:users"
#: How many recently served users a claim passes over (each is one more claim attempt at most).
RECENT = 4


def recent_users(controls: Sequence[dict[str, Any]]) -> list[str]:
    """The users served most recently, newest first (from the ``queue_controls`` documents)."""
    for doc in controls:
        if doc.get("name") == _NAME:
            return [str(u) for u in doc.get("recent") or []]
    return []


def _remember(store: Store, recent: list[str], job: dict[str, Any] | None) -> None:
    user = (job or {}).get("user")
    if user is None or (recent and recent[0] == user):
        return
    store.put_control({"name": _NAME, "kind": "fair", "recent": [user, *[u for u in recent if u != user]][:RECENT]})


def claim_fair(
    store: Store, controls: Sequence[dict[str, Any]], write: ClaimWrite, types: Sequence[str], *,
    lease_token: str | None = None, now: datetime | None = None,
) -> dict[str, Any] | None:
    """Claim the next job of ``types`` by ``write``, passing over the recently served users' jobs
    at the priority of the job in line when another user's job waits there. ``controls``: the
    claim's ``queue_controls`` snapshot; ``lease_token``/``now``: the gate's, passed on."""
    recent = recent_users(controls)
    head = None
    if recent:
        ready_by = now or store.now()
        query = JobQuery(status=[JobStatus.PENDING.value], job_type=list(types), run_after_before=ready_by)
        found = store.find_jobs(query, sort=(("priority", 1), ("created_at", 1)), limit=1)
        head = found[0] if found else None
        if head is None:
            return None
    if head is not None and head.get("user") in recent:
        for k in range(len(recent), 0, -1):
            narrow = ClaimFilter(priority=int(head.get("priority") or 2), skip_users=tuple(recent[:k]))
            job = write(types, lease_token=lease_token, now=now, narrow=narrow)
            if job is not None:
                _remember(store, recent, job)
                return job
    job = write(types, lease_token=lease_token, now=now, narrow=ClaimFilter())
    _remember(store, recent, job)
    return job
