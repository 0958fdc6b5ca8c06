"""The sweeper's moves over many jobs, built on :class:`sccli.lifecycle.JobLifecycle`'s one
transition: promoting due scheduled jobs, recovering jobs whose service stopped heartbeating,
and raising the priority of jobs that waited too long. Each write is fenced, so two sweepers
(one per service) never move a job twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sccli.domain import ErrorKind, JobStatus
from sccli.events import job_event
from sccli.store.base import Before, JobChange, JobQuery

if TYPE_CHECKING:
    from sccli.lifecycle import JobLifecycle

_P, _R = JobStatus.PENDING, JobStatus.RUNNING
#: The sweeper promotes at most this many due jobs per pass (the rest at its next pass).
PROMOTE_BATCH = 500


def promote_due(lifecycle: JobLifecycle, actor: str = "sweeper", limit: int = PROMOTE_BATCH) -> list[dict[str, Any]]:
    """The sweeper's promotion: scheduled jobs whose ``run_after`` has come move to pending,
    earliest first, at most ``limit`` per call (one transaction where the store has them).
    Each write is fenced on the status and on the start time it read, so a concurrent cancel,
    run-now or re-schedule wins and a second sweeper's pass changes nothing."""
    now = lifecycle.store.now()
    due = lifecycle.store.due_scheduled(now, limit)
    fence = {"run_after": Before(now + timedelta(milliseconds=1), or_missing=False)}
    promoted = []
    with lifecycle.store.atomic():
        for job in due:
            done = lifecycle.transition(job, _P, actor=actor, reason="due", fence=fence)
            if done is not None:
                promoted.append(done)
    return promoted

def requeue_stale(
    lifecycle: JobLifecycle, stale_after_seconds: float = 60.0, actor: str = "sweeper", limit: int = 500
) -> list[dict[str, Any]]:
    """Recover running jobs whose heartbeat is older than ``stale_after_seconds`` on the
    store's clock: each is re-queued (or failed when its attempts are used up), fenced by
    its lease token AND by its heartbeat still being old, so a worker that resumes
    heartbeating keeps its job. Returns the jobs after recovery."""
    now = lifecycle.store.now()
    cutoff = now - timedelta(seconds=stale_after_seconds)
    stale = lifecycle.store.find_jobs(
        JobQuery(status=[_R.value], heartbeat_before=cutoff), sort=(("heartbeat_at", 1),), limit=limit
    )
    recovered = []
    for job in stale:
        beat = job.get("heartbeat_at")
        age = "unknown" if beat is None else f"{(now - beat).total_seconds():.0f}s"
        error = f"worker {job.get('worker_id')} stopped heartbeating (last beat {age} ago)"
        done = lifecycle.fail_attempt(
            job, error, kind=ErrorKind.STALE, retry=True, actor=actor, fence={"heartbeat_at": Before(cutoff)}
        )
        if done is not None:
            recovered.append(done)
    return recovered

def promote_starving(
    lifecycle: JobLifecycle, after_minutes: float, actor: str = "sweeper", limit: int = 500) -> list[dict[str, Any]]:
    """The starvation guard: a pending job ready for longer than ``after_minutes`` is raised
    one priority level (logged as an event), so low-priority work cannot wait forever."""
    now = lifecycle.store.now()
    cutoff = now - timedelta(minutes=after_minutes)
    waiting = lifecycle.store.find_jobs(
        JobQuery(status=[_P.value], priorities=[2, 3], run_after_before=cutoff), sort=(("created_at", 1),),
        limit=limit,
    )
    raised = []
    for job in waiting:
        if job.get("created_at") is not None and job["created_at"] > cutoff:
            continue
        priority = int(job.get("priority") or 2)
        change = JobChange(set={"priority": priority - 1, "run_after": now, "updated_at": now})
        why = f"waited over {after_minutes:g} min: priority raised {priority} → {priority - 1}"
        event = job_event(job["job_id"], _P, _P, at=now, actor=actor, reason=why)
        done = lifecycle.write(job["job_id"], {"status": _P.value, "priority": priority}, change, event, [])
        if done is not None:
            raised.append(done)
    return raised
