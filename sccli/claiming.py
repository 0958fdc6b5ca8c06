"""One claim's write: the next ``pending`` job of some types taken with a new lease, with its
claim event and its dataset's move to the working status written together (one transaction on
SQLite, the job's outbox on MongoDB). :class:`sccli.claim_policy.ClaimPolicy` decides which
types and users may be claimed (pauses, the fleet-wide gate, the fair share) and calls here, as a
:class:`ClaimWrite` the queue hands it.
"""

from __future__ import annotations

import os
import socket
import uuid as uuidlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sccli.domain import JobStatus
from sccli.followups import claimed_item, crash_point, drain_outbox, outbox_batch, run_followups
from sccli.store.base import ClaimFilter, JobQuery, Store


class ClaimWrite(Protocol):
    """One claim's write: the next ready job of ``types`` matching ``narrow``, taken with
    ``lease_token`` (None: a new one) at ``now`` (None: the store's clock); None when none is ready."""

    def __call__(
        self, types: Sequence[str], /, *, lease_token: str | None, now: datetime | None, narrow: ClaimFilter
    ) -> dict[str, Any] | None: ...


def claim_one(
    store: Store, worker: str, types: Sequence[str] | None, host: str | None, pid: int | None, *,
    lease_token: str | None, now: datetime | None, narrow: ClaimFilter,
) -> dict[str, Any] | None:
    """Claim the next job of ``types`` (None: any) matching ``narrow`` for ``worker``; the job as
    it is after the claim, or None when none is ready."""
    now = now or store.now()
    host = host or socket.gethostname()
    pid = pid or os.getpid()
    fields = {
        "worker_id": worker, "host": host, "pid": pid, "started_at": now, "heartbeat_at": now,
        "updated_at": now, "lease_token": lease_token or uuidlib.uuid4().hex, "cancel_requested": False,
        "progress_percentage": 0, "progress_message": None,
    }
    claimed = [claimed_item(str(fields["lease_token"]), f"worker:{host}:{pid}", worker, now)]
    if store.atomic_followups:
        # A read first: an idle poll (or a wake-up for a paused type) takes no write lock.
        ready = JobQuery(status=[JobStatus.PENDING.value], job_type=types, run_after_before=now)
        if not store.find_jobs(ready, sort=(), limit=1, fields=("job_id",)):
            return None
        with store.atomic():
            job = store.claim_job(now, fields, types, narrow=narrow)
            if job is not None:
                crash_point("after_job_write", job["status"])
                run_followups(store, claimed, job)
        return job
    # Deferred: the holder's outcome (or the stale recovery) replaces the batch, no pull of its own.
    batch = outbox_batch(claimed, now, deferred=True)
    job = store.claim_job(now, fields, types, push={"outbox": batch}, narrow=narrow)
    if job is not None:
        crash_point("after_job_write", job["status"])
        job["outbox"] = drain_outbox(store, job, own=batch["id"])
    return job
