"""Plain-words explanations of a job's state, for ``sc job show`` and the API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sccli.clock import iso, utcnow
from sccli.domain import JobStatus, is_live_service, job_timeout_seconds, job_type_config
from sccli.store.base import JobQuery, Store


def live_workers(store: Store, stale_after_seconds: float, now: datetime | None = None) -> list[dict[str, Any]]:
    """Service documents whose heartbeat is fresh and that have not stopped."""
    now = now or utcnow()
    return [w for w in store.list_workers() if is_live_service(w, now, stale_after_seconds)]


def explain_job(store: Store, job: dict[str, Any], stale_after_seconds: float = 60.0) -> list[str]:
    """Sentences that say why a job is where it is (why a pending job is not running yet)."""
    now = store.now()
    status = job.get("status")
    if status == JobStatus.PENDING:
        return _explain_pending(store, job, now, stale_after_seconds)
    if status == JobStatus.SCHEDULED:
        return _explain_scheduled(job, now)
    if status == JobStatus.RUNNING:
        return _explain_running(job, now, stale_after_seconds)
    if status == JobStatus.FAILED:
        return [
            f"failed after {job.get('attempts')} of {job.get('max_attempts')} attempts: {job.get('error')}",
            "retry it with: sc job retry " + job["job_id"],
        ]
    if status == JobStatus.CANCELLED:
        return [f"cancelled: {job.get('error') or 'no reason given'}"]
    return [f"completed at {iso(job.get('completed_at'))}"]


def _explain_scheduled(job: dict[str, Any], now: datetime) -> list[str]:
    why = "waiting out its retry delay" if job.get("errors") and job.get("attempts") else "scheduled"
    return [f"{why}: {starts_in(job, now)}", "start it now with: sc job run-now " + job["job_id"]]


def starts_in(job: dict[str, Any], now: datetime) -> str:
    """``starts at 2026-12-08T03:00:00Z, in 4 min`` (or that it is due: the sweeper's next pass)."""
    run_after = job.get("run_after") or now
    wait = (run_after - now).total_seconds()
    if wait > 0:
        return f"starts at {iso(run_after)}, in {in_words(wait)}"
    return f"due since {iso(run_after)}: a service's sweeper makes it pending at its next pass"


def in_words(seconds: float) -> str:
    """A wait in the largest fitting unit: ``45 s``, ``4 min``, ``2 h 5 min``, ``3 d 2 h``."""
    s = max(0, int(seconds))  # whole units passed: "in 4 min" until 5 min are left
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h" + (f" {s % 3600 // 60} min" if s % 3600 >= 60 else "")
    return f"{s // 86400} d" + (f" {s % 86400 // 3600} h" if s % 86400 >= 3600 else "")


def _explain_pending(store: Store, job: dict[str, Any], now: datetime, stale_after: float) -> list[str]:
    from sccli.pause import ALL_TYPES, paused_types

    reasons: list[str] = []
    paused = paused_types(store)
    for key in (job.get("job_type"), ALL_TYPES):
        if key in paused:
            what = "the whole queue is paused" if key == ALL_TYPES else f"job type {key} is paused"
            why = f": {paused[key]['reason']}" if paused[key].get("reason") else ""
            reasons.append(
                f"{what} by {paused[key].get('actor')} since {iso(paused[key].get('at'))}{why} "
                "(resume with: sc queue resume)"
            )
    held = _held_types(store, paused)
    if job.get("job_type") in held:
        what = held[job["job_type"]]
        reasons.append(f"job type {job['job_type']} is held by its fleet-wide limit: {what} "
                       "(change it with: sc queue set)")
    holding = bool(reasons)
    # Jobs written by others (the portal) may lack run_after or created_at: claimable at once.
    run_after = job.get("run_after") or now
    if run_after > now:
        wait = (run_after - now).total_seconds()
        what = "waiting for retry" if job.get("attempts") else "scheduled to start"
        reasons.append(f"{what} until {iso(run_after)} (in {wait:.0f}s)")
    if holding:  # a pause or a fleet-wide limit holds it: neither the jobs ahead nor the services are the reason
        return reasons
    ahead = _ahead(store, job, now, run_after, set(held) | set(paused))
    if ahead:
        reasons.append(f"{ahead} pending job(s) are ahead of it (higher priority or created earlier)")
    reasons.extend(_explain_services(store, job, now, stale_after))
    return reasons or ["next in line: a live service should claim it at its next poll"]


def _held_types(store: Store, paused: dict[str, Any]) -> dict[str, str]:
    """Job types whose fleet-wide cap or rate holds them now → what holds them."""
    from sccli.controls import read_limits
    from sccli.gate import why_held

    held = {}
    for job_type, limits in read_limits(store).items():
        found = why_held(store, job_type) if limits.gated and job_type not in paused else None
        if found is not None:
            held[job_type] = found.detail
    return held


def _ahead(store: Store, job: dict[str, Any], now: datetime, run_after: datetime, skipped: set[str]) -> int:
    """Ready jobs claimed before this one: higher priority, or same priority and older; those
    of paused or held types do not count (services pass them by)."""
    prio = int(job.get("priority") or 2)
    higher = JobQuery(status=[JobStatus.PENDING.value], run_after_before=now, priorities=list(range(1, prio)))
    ahead = sum(n for t, n in store.count_jobs_by("job_type", higher).items() if t not in skipped) if prio > 1 else 0
    # Jobs created in the same millisecond tie; count them as ahead (claim order between them is open).
    created = job.get("created_at") or now
    same = JobQuery(status=[JobStatus.PENDING.value], run_after_before=now, priorities=[prio],
                    created_before=created + timedelta(milliseconds=1))
    ahead += sum(n for t, n in store.count_jobs_by("job_type", same).items() if t not in skipped)
    return max(0, ahead - (1 if run_after <= now else 0))


def _explain_services(store: Store, job: dict[str, Any], now: datetime, stale_after: float) -> list[str]:
    workers = live_workers(store, stale_after, now)
    if not workers:
        return ["no live service is running (start one with: sc service run SETTINGS.json)"]
    job_type = job.get("job_type", "")
    serving = [w for w in workers if not w.get("types") or job_type in w["types"]]
    if not serving:
        return [f"no live service serves job type {job_type} ({len(workers)} live service(s) serve other types)"]
    if job_type_config(job_type).requires_internet and all(w.get("offline") for w in serving):
        return [f"{job_type} needs internet access and every live service serving it runs offline"]
    if all(w.get("status") == "draining" for w in serving):
        return ["every live service serving it is draining (shutting down)"]
    slots = sum(int(w.get("slots") or 0) for w in serving)
    busy = sum(len(w.get("running_jobs") or []) for w in serving)
    if slots and busy >= slots:
        return [f"all {slots} worker slot(s) of the live services are busy"]
    return []


def _explain_running(job: dict[str, Any], now: datetime, stale_after: float) -> list[str]:
    reasons = [
        f"running on {job.get('worker_id')} (host {job.get('host')}, pid {job.get('pid')}), attempt "
        f"{job.get('attempts')} of {job.get('max_attempts')}"
    ]
    beat = job.get("heartbeat_at")
    if beat is not None:
        age = (now - beat).total_seconds()
        stale = " — stale: its service stopped beating; the sweeper will re-queue it" if age > stale_after else ""
        reasons.append(f"last heartbeat {age:.0f}s ago{stale}")
    started = job.get("started_at")
    if started is not None:
        deadline = started + timedelta(seconds=job_timeout_seconds(job))
        reasons.append(f"times out at {iso(deadline)}")
    if job.get("cancel_requested"):
        reasons.append("cancel requested: the service stops it within 2 s")
    return reasons
