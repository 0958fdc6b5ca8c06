"""How jobs end or go round again: complete, fail (with backoff), cancel, retry, release and
stale recovery, with the dataset moves and chaining the contract prescribes.

:class:`JobLifecycle` is mixed into :class:`sccli.queue.JobQueue`; it relies on the queue's
``store``, ``actor``, retry settings and ``create_job``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sccli import domain
from sccli.clock import utcnow
from sccli.datasets import move_dataset
from sccli.errors import Conflict, NotFound
from sccli.store.base import JobChange, JobQuery

if TYPE_CHECKING:
    from sccli.store.base import Store

#: Inherited by a chained job from its parent.
CHAINED_PARAMETERS = ("sensor_type", "conversion_params", "user_email", "input_path", "output_path")


class JobLifecycle:
    """Transitions out of ``running`` (and the explicit retry/cancel of an administrator)."""

    store: Store
    actor: str
    retry_base_seconds: float
    retry_max_seconds: float

    # -- success ----------------------------------------------------------------------------
    def complete(self, job_id: str, lease_token: str, result: dict[str, Any] | None = None, actor: str | None = None) -> dict[str, Any] | None:
        """Mark a running job completed, move its dataset on and chain the next job once.

        Returns the job after the update, or None when the caller no longer holds the lease
        (so a repeated or late completion changes nothing and creates no second child).
        """
        now = utcnow()
        who = actor or self.actor
        change = JobChange(
            set={"status": "completed", "completed_at": now, "updated_at": now, "result": result or {}, "progress_percentage": 100, "cancel_requested": False},
            unset=("active_key",),
        )
        job = self.store.update_job(job_id, {"status": "running", "lease_token": lease_token}, change, self._event("running", "completed", who, "handler succeeded", at=now))
        if job is not None:
            self.advance_dataset(job, who)
        return job

    def advance_dataset(self, job: dict[str, Any], actor: str) -> None:
        """Move a completed job's dataset to its next stage and chain the next job, once (idempotent)."""
        if job["job_type"] not in domain.DATASET_STAGES:
            return  # rsync, backup, validation and plugins neither move datasets nor chain
        dataset = self.store.get_dataset(job["dataset_uuid"])
        target, child_type = domain.next_stage(job["job_type"], job.get("result"), dataset)
        if target and dataset is not None:
            move_dataset(self.store, job["dataset_uuid"], target, actor=actor, reason=f"{job['job_type']} completed", job_id=job["job_id"])
        if child_type and not self.store.find_jobs(JobQuery(parent_job_id=job["job_id"]), limit=1):
            params = {k: job["parameters"][k] for k in CHAINED_PARAMETERS if k in (job.get("parameters") or {})}
            params.update((job.get("result") or {}).get("next_parameters") or {})
            try:
                self.create_job(  # type: ignore[attr-defined]
                    job["dataset_uuid"], child_type, params, parent_job_id=job["job_id"],
                    allow_missing_dataset=dataset is None, actor=actor, created_by=f"chain:{job['job_id']}",
                )
            except Conflict as exc:
                self.store.insert_event(self._event(None, "pending", actor, f"chained {child_type} not created: {exc}") | {"job_id": job["job_id"], "refused": True})

    # -- failure ----------------------------------------------------------------------------
    def fail(self, job_id: str, lease_token: str, error: str, *, kind: str = "error", retry: bool = True, actor: str | None = None) -> dict[str, Any] | None:
        """Record a failed attempt: back to pending after a backoff while attempts remain,
        else failed for good. ``kind`` is error, timeout or stale. None when the lease is lost."""
        job = self.store.get_job(job_id)
        if job is None or job.get("status") != "running" or job.get("lease_token") != lease_token:
            return None
        return self.fail_attempt(job, error, kind=kind, retry=retry, actor=actor or self.actor)

    def fail_attempt(self, job: dict[str, Any], error: str, *, kind: str, retry: bool, actor: str) -> dict[str, Any] | None:
        """Record a failed attempt of ``job`` as read (fenced by its lease token): retry or fail for good."""
        now = utcnow()
        attempts = int(job.get("attempts") or 0)
        will_retry = retry and attempts < int(job.get("max_attempts") or 1)
        entry = {"attempt": attempts, "at": now, "error": error, "worker": job.get("worker_id"), "kind": kind}
        fields: dict[str, Any] = {"error": error, "updated_at": now, "cancel_requested": False}
        if will_retry:
            delay = domain.retry_delay_seconds(attempts, self.retry_base_seconds, self.retry_max_seconds, self._jitter())  # type: ignore[attr-defined]
            fields.update(status="pending", run_after=now + timedelta(seconds=delay))
            change = JobChange(set=fields, unset=("lease_token", "heartbeat_at"), push={"errors": entry})
            reason = f"attempt {attempts} failed ({kind}); retry in {delay:.0f}s"
        else:
            fields.update(status="failed", completed_at=now)
            change = JobChange(set=fields, unset=("active_key",), push={"errors": entry})
            reason = f"attempt {attempts} of {job.get('max_attempts')} failed ({kind}); no retry left"
        expect = {"status": "running", "lease_token": job.get("lease_token")}
        updated = self.store.update_job(job["job_id"], expect, change, self._event("running", fields["status"], actor, reason, at=now))
        if updated is not None:
            self._dataset_after_failure(updated, will_retry, error, actor)
        return updated

    def _dataset_after_failure(self, job: dict[str, Any], will_retry: bool, error: str, actor: str) -> None:
        stages = domain.DATASET_STAGES.get(job["job_type"])
        if not stages:
            return
        uuid, job_id = job["dataset_uuid"], job["job_id"]
        move_dataset(self.store, uuid, stages.error, actor=actor, reason="attempt failed", job_id=job_id, error_message=error)
        if will_retry:
            move_dataset(self.store, uuid, stages.queued or stages.working, actor=actor, reason="retry scheduled", job_id=job_id)
        else:
            move_dataset(self.store, uuid, "failed", actor=actor, reason="no attempts left", job_id=job_id)

    # -- cancel -----------------------------------------------------------------------------
    def cancel(self, job_id: str, reason: str | None = None, actor: str | None = None) -> dict[str, Any]:
        """Cancel a pending job at once, or ask the service running it to stop (``cancel_requested``).

        Raises NotFound for an unknown job and Conflict when the job has already ended.
        """
        who = actor or self.actor
        reason = reason or f"cancelled by {who}"
        for _ in range(3):
            job = self._require(job_id)
            if job["status"] == "pending":
                done = self._finish_cancel(job, {"status": "pending"}, reason, who)
                if done is not None:
                    return done
            elif job["status"] == "running":
                now = utcnow()
                change = JobChange(set={"cancel_requested": True, "cancel_reason": reason, "updated_at": now})
                event = self._event("running", "running", who, f"cancel requested: {reason}", at=now)
                requested = self.store.update_job(job_id, {"status": "running", "lease_token": job.get("lease_token")}, change, event)
                if requested is not None:
                    return requested
            else:
                raise Conflict(f"job {job_id} is {job['status']}; only pending or running jobs can be cancelled")
        raise Conflict(f"job {job_id} changed state while cancelling; try again")

    def mark_cancelled(self, job_id: str, lease_token: str, reason: str | None = None, actor: str | None = None) -> dict[str, Any] | None:
        """The service's confirmation that a running job was stopped after a cancel request."""
        job = self.store.get_job(job_id)
        if job is None or job.get("lease_token") != lease_token:
            return None
        return self._finish_cancel(job, {"status": "running", "lease_token": lease_token}, reason or job.get("cancel_reason") or "cancelled", actor or self.actor)

    def _finish_cancel(self, job: dict[str, Any], expect: dict[str, Any], reason: str, actor: str) -> dict[str, Any] | None:
        now = utcnow()
        change = JobChange(set={"status": "cancelled", "completed_at": now, "updated_at": now, "error": reason, "cancel_requested": False}, unset=("active_key",))
        done = self.store.update_job(job["job_id"], expect, change, self._event(expect["status"], "cancelled", actor, reason, at=now))
        stages = domain.DATASET_STAGES.get(job["job_type"])
        if done is not None and stages:
            move_dataset(self.store, job["dataset_uuid"], stages.error, actor=actor, reason="job cancelled", job_id=job["job_id"], error_message=reason)
        return done

    # -- retry and release ------------------------------------------------------------------
    def retry(self, job_id: str, actor: str | None = None) -> dict[str, Any]:
        """Put a failed or cancelled job back to pending with a fresh set of attempts."""
        who = actor or self.actor
        job = self._require(job_id)
        if job["status"] not in ("failed", "cancelled"):
            raise Conflict(f"job {job_id} is {job['status']}; only failed or cancelled jobs can be retried")
        now = utcnow()
        fields: dict[str, Any] = {
            "status": "pending", "attempts": 0, "run_after": now, "updated_at": now, "completed_at": None,
            "cancel_requested": False, "progress_percentage": 0, "progress_message": None,
        }
        if not job.get("allow_duplicate"):
            fields["active_key"] = domain.active_key(job["dataset_uuid"], job["job_type"])
        change = JobChange(set=fields, unset=("lease_token", "heartbeat_at"))
        done = self.store.update_job(job_id, {"status": job["status"]}, change, self._event(job["status"], "pending", who, "explicit retry", at=now))
        if done is None:
            raise Conflict(f"job {job_id} changed state while retrying; try again")
        stages = domain.DATASET_STAGES.get(job["job_type"])
        if stages:
            move_dataset(self.store, job["dataset_uuid"], stages.queued or stages.working, actor=who, reason="job retried", job_id=job_id)
        return done

    def release(self, job_id: str, lease_token: str, reason: str = "service draining", actor: str | None = None) -> dict[str, Any] | None:
        """Give a running job back to pending without consuming an attempt (SIGTERM drain)."""
        now = utcnow()
        change = JobChange(set={"status": "pending", "run_after": now, "updated_at": now}, unset=("lease_token", "heartbeat_at"), inc={"attempts": -1})
        return self.store.update_job(job_id, {"status": "running", "lease_token": lease_token}, change, self._event("running", "pending", actor or self.actor, reason, at=now))

    # -- recovery ---------------------------------------------------------------------------
    def requeue_stale(self, stale_after_seconds: float = 60.0, actor: str = "sweeper", limit: int = 500) -> list[dict[str, Any]]:
        """Recover running jobs whose heartbeat is older than ``stale_after_seconds``.

        Each is re-queued (or failed when its attempts are used up), fenced by its lease token
        so a job whose worker is still writing is never taken from it twice. Returns the jobs
        after recovery.
        """
        cutoff = utcnow() - timedelta(seconds=stale_after_seconds)
        stale = self.store.find_jobs(JobQuery(status=["running"], heartbeat_before=cutoff), sort=(("heartbeat_at", 1),), limit=limit)
        recovered = []
        for job in stale:
            age = "unknown" if job.get("heartbeat_at") is None else f"{(utcnow() - job['heartbeat_at']).total_seconds():.0f}s"
            done = self.fail_attempt(job, f"worker {job.get('worker_id')} stopped heartbeating (last beat {age} ago)", kind="stale", retry=True, actor=actor)
            if done is not None:
                recovered.append(done)
        return recovered

    # -- helpers ----------------------------------------------------------------------------
    def _require(self, job_id: str) -> dict[str, Any]:
        job = self.store.get_job(job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return job

    def _event(self, from_status: str | None, to_status: str, actor: str, reason: str, at: Any = None) -> dict[str, Any]:
        return {"entity": "job", "from": from_status, "to": to_status, "at": at or utcnow(), "actor": actor, "reason": reason}
