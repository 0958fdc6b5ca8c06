"""Deleting one ended job: the job, its events and its log file, with an audit record.

The audit is a ``job_events`` record (``to: "deleted"``, the status it had, the actor and the
reason) written after the job's other events are removed, so it outlives the job, as
``sc job purge`` does with ``to: "purged"``; ``sc job show`` of the id then says it is gone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sccli.clock import utcnow
from sccli.domain import TERMINAL_STATUSES
from sccli.errors import Conflict, NotFound
from sccli.jobids import resolve_job_id
from sccli.store.base import JobQuery

if TYPE_CHECKING:
    from sccli.settings import Settings
    from sccli.store.base import Store

#: The ``to`` of the audit event a deletion leaves.
DELETED = "deleted"


def deletable_job(store: Store, text: str) -> dict[str, Any]:
    """The ended job ``text`` (an id or unique prefix) names; Conflict (exit 5) for an active one."""
    job_id = resolve_job_id(store, text)
    job = store.get_job(job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    ended = {s.value for s in TERMINAL_STATUSES}
    if job.get("status") not in ended:
        raise Conflict(f"job {job_id} is {job.get('status')}: only an ended job ({', '.join(sorted(ended))}) "
                       "can be deleted; cancel it first (sc job cancel)")
    return job


def delete_job(
    store: Store, settings: Settings, job: dict[str, Any], actor: str, reason: str | None = None
) -> dict[str, Any]:
    """Delete the ended ``job`` (conditional on its status: a retry meanwhile keeps it), its events and
    its log file in ``settings.log_dir``; leave the audit event. Returns what was removed."""
    from sccli.monitor.log_files import JobLogFiles, LogTally

    job_id, status = job["job_id"], job.get("status")
    days = _hold_day(store, job)  # its day's stored tally must not keep counting it
    try:
        if not store.delete_jobs(JobQuery(job_ids=[job_id], status=[status] if status else None)):
            raise Conflict(f"job {job_id} changed while it was being deleted (retried?); nothing was deleted")
    finally:
        if days:
            store.tallies.bump_tally_days(days, hold_until=None)
    events = store.delete_events([job_id])
    tally = LogTally()
    JobLogFiles(settings.log_dir).remove([job_id], tally)
    store.insert_event({
        "job_id": job_id, "entity": "job", "from": status, "to": DELETED, "at": utcnow(), "actor": actor,
        "reason": reason or f"{job.get('job_type')} job deleted by {actor}",
    })
    return {
        "job_id": job_id, "status": status, "events": events, "log_files": tally.files, "log_error": tally.first_error,
    }


def _hold_day(store: Store, job: dict[str, Any]) -> list[int]:
    """Hold the settled day of the job's ``completed_at`` (as the cleanup does); [] when none."""
    from sccli import figures as fig
    from sccli.clock import to_epoch
    from sccli.monitor.tally import HOLD_SECONDS

    at = to_epoch(job.get("completed_at")) if job.get("completed_at") else None
    now = to_epoch(store.now())
    if at is None or now is None or not fig.settled(fig.day_of(at), now):
        return []
    days = [fig.day_of(at)]
    store.tallies.bump_tally_days(days, hold_until=now + HOLD_SECONDS)
    return days
