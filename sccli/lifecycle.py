"""How jobs move: one checked transition function and the moves built on it (claim, complete,
fail with backoff, cancel, retry, release, run-now), with the dataset moves and chaining the
contract prescribes, never half done (see :mod:`sccli.followups`); the sweeper's moves over many
jobs (promotion, stale recovery, starvation) are in :mod:`sccli.sweeps`.

:meth:`JobLifecycle.transition` is the only writer of a job's ``status`` after its creation
(the claim, which picks its job in the same atomic write, is the one other): it checks the
job table, builds the conditional write's expectation and the event from the same from/to
pair, and carries the follow-ups.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sccli import domain
from sccli.domain import DatasetStatus, ErrorKind, JobStatus
from sccli.errors import Conflict, InvalidInput, NotFound
from sccli.events import job_event
from sccli.followups import (
    OutboxAcks,
    chained_job_id,
    crash_point,
    dataset_item,
    drain_outbox,
    event_item,
    job_item,
    outbox_batch,
    run_followups,
    tally_item,
    write_outbox,
)
from sccli.limits import check_storable
from sccli.store.base import JobChange, Store

#: Inherited by a chained job from its parent.
CHAINED_PARAMETERS = ("sensor_type", "conversion_params", "user_email", "input_path", "output_path")

#: The longest start delay accepted (a job scheduled, or retried, later than this is a typo).
MAX_DELAY_SECONDS = 366 * 86400.0

#: Builds a validated job document (``JobQueue.build_job``), for chained jobs.
JobBuilder = Callable[..., dict[str, Any]]

_P, _R, _S = JobStatus.PENDING, JobStatus.RUNNING, JobStatus.SCHEDULED


@dataclass
class JobLifecycle:
    """Transitions of existing jobs over one store."""

    store: Store
    build_job: JobBuilder
    actor: str
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    rng: random.Random = field(default_factory=random.Random)
    #: Per job type (base, cap) of the retry backoff, over the queue-wide pair above.
    retry_by_type: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: Set by a service: outbox batches of events alone, run, wait there for one pull of many.
    acks: OutboxAcks | None = None

    # -- the one transition -----------------------------------------------------------------
    def transition(
        self, job: dict[str, Any], to: JobStatus, *, actor: str, reason: str, change: JobChange | None = None,
        followups: Sequence[dict[str, Any]] = (), fence: dict[str, Any] | None = None, log: str | None = None,
        resources: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Move ``job`` (as read) to ``to``: conditional on its status (and, from running, on
        its lease token, plus ``fence``), with its event and ``followups``; the job after the
        write, or None when it was no longer in the state read. ``log``: an entry for the job's
        ``logs``, ``resources``: what the ended attempt used (an entry of the job's ``resources``
        list, see docs/resources.md), both appended in the same write."""
        source = JobStatus(job.get("status"))
        if not domain.job_transition_allowed(source, to):
            raise Conflict(f"job {job.get('job_id')}: {source.value} → {to.value} is not a job transition")
        expect: dict[str, Any] = {"status": source.value}
        if source is _R:
            expect["lease_token"] = job.get("lease_token")
        expect.update(fence or {})
        now = self.store.now()
        change = change or JobChange()
        change.set.update(status=to.value, updated_at=now)
        if log is not None:
            change.push["logs"] = {"timestamp": now, "message": log}
        if resources is not None:
            change.push["resources"] = resources
        event = job_event(job["job_id"], source, to, at=now, actor=actor, reason=reason)
        return self.write(job["job_id"], expect, change, event, [*followups, *_day_tally(job, change)],
                          held=job.get("outbox"))

    def write(
        self, job_id: str, expect: dict[str, Any], change: JobChange, event: dict[str, Any],
        followups: list[dict[str, Any]], *, held: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any] | None:
        """A job write with its event and follow-ups: one transaction, or an outbox (:func:`write_outbox`)."""
        store = self.store
        with store.atomic():
            if store.atomic_followups:
                doc = store.update_job(job_id, expect, change, {**event, "job_id": job_id})
                if doc is not None:
                    crash_point("after_job_write", doc["status"])
                    crash_point("after_event", doc["status"])  # written with the job, in this transaction
                    run_followups(store, followups, doc)
                return doc
            batch = outbox_batch([event_item({**event, "job_id": job_id}), *followups], event["at"])
            doc, dropped = write_outbox(store, job_id, expect, change, batch, held, self.acks)
        if doc is not None:
            crash_point("after_job_write", doc["status"])
            doc["outbox"] = drain_outbox(store, doc, own=batch["id"], dropped=dropped, acks=self.acks)
        return doc

    # -- success ----------------------------------------------------------------------------
    def complete(self, job_id: str, lease_token: str, result: dict[str, Any] | None = None, actor: str | None = None, *,
                 log: str | None = None, claimed: dict[str, Any] | None = None,
                 resources: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Mark a running job completed, move its dataset on and chain the next job, atomically.

        None when the caller no longer holds the lease (a late completion changes nothing).
        ``log``, ``resources``: entries for the job's ``logs`` and ``resources``, in the same
        write. ``claimed``: the job as its claim returned it, read instead of the store (the
        write is fenced by the lease anyway)."""
        job = self._running(job_id, lease_token, claimed)
        if job is None:
            return None
        who = actor or self.actor
        result = result or {}
        try:
            check_storable(result, "result", allow_dotted_keys=True)
        except InvalidInput as exc:  # running it again would produce the same result: fail once
            return self.fail_attempt(job, f"result too large to record: {exc}", kind=ErrorKind.TOO_LARGE, retry=False,
                                     actor=who, log=log, resources=resources, keep_lease=True)
        now = self.store.now()
        change = JobChange(
            set={"completed_at": now, "result": result, "progress_percentage": 100, "cancel_requested": False},
            unset=("active_key",),
        )
        return self.transition(job, JobStatus.COMPLETED, actor=who, reason="handler succeeded", change=change,
                               followups=self._next_stage(job, result, who), log=log, resources=resources)

    def _next_stage(self, job: dict[str, Any], result: dict[str, Any], actor: str) -> list[dict[str, Any]]:
        """Follow-ups of a success: the dataset's next stage and the chained job."""
        if job["job_type"] not in domain.DATASET_STAGES:
            return []  # rsync, backup, validation and plugins neither move datasets nor chain
        dataset = self.store.get_dataset(job["dataset_uuid"])
        target, child_type = domain.next_stage(job["job_type"], result, dataset)
        items = []
        if target is not None and dataset is not None:
            items.append(dataset_item(job["dataset_uuid"], [target], job_id=job["job_id"], actor=actor,
                                      reason=f"{job['job_type']} completed", seen=dataset))
        if child_type is not None:
            child = self._chained_job(job, child_type, result, dataset)
            event = job_event(child["job_id"], None, _P, at=child["created_at"], actor=actor,
                              reason=f"chained after {job['job_id']}")
            items.append(job_item(child, event))
        return items

    def _chained_job(
        self, job: dict[str, Any], child_type: str, result: dict[str, Any], dataset: dict[str, Any] | None
    ) -> dict[str, Any]:
        parent = job.get("parameters") or {}
        params = {k: parent[k] for k in CHAINED_PARAMETERS if k in parent}
        for dataset_key, param in domain.DATASET_INHERITED_PARAMETERS.items():
            if param not in params and (dataset or {}).get(dataset_key) not in (None, "", {}):
                params[param] = dataset[dataset_key]  # type: ignore[index]
        params.update(result.get("next_parameters") or {})
        return self.build_job(
            job["dataset_uuid"], child_type, params, None, None, None, parent_job_id=job["job_id"],
            created_by=f"chain:{job['job_id']}", job_id=chained_job_id(job["job_id"], child_type),
        )

    # -- failure ----------------------------------------------------------------------------
    def fail(
        self, job_id: str, lease_token: str, error: str, *, kind: str = ErrorKind.ERROR, retry: bool = True,
        actor: str | None = None, log: str | None = None, claimed: dict[str, Any] | None = None,
        resources: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Record a failed attempt: back to pending after a backoff while attempts remain and the
        error may pass, else failed for good. None when the lease is lost. ``log`` and
        ``claimed`` as for :meth:`complete`."""
        job = self._running(job_id, lease_token, claimed)
        if job is None:
            return None
        who = actor or self.actor
        return self.fail_attempt(job, error, kind=kind, retry=retry, actor=who, log=log, resources=resources,
                                 keep_lease=True)

    def fail_attempt(
        self, job: dict[str, Any], error: str, *, kind: str, retry: bool, actor: str,
        fence: dict[str, Any] | None = None, log: str | None = None, resources: dict[str, Any] | None = None,
        keep_lease: bool = False,
    ) -> dict[str, Any] | None:
        """Record a failed attempt of ``job`` as read (fenced by its lease token): retry or fail.

        ``keep_lease``: the lease holder's own write leaves its (spent) lease token on the job, as
        every outcome of the holder does, so a retry of a write whose reply was lost knows it
        landed; a sweeper's clears it. The next claim sets a new one."""
        error_kind = ErrorKind(kind)
        now = self.store.now()
        attempts = int(job.get("attempts") or 0)
        limit = int(job.get("max_attempts") or domain.job_type_config(job.get("job_type", "")).max_attempts)
        will_retry = retry and error_kind.retryable and attempts < limit
        entry = {
            "attempt": attempts, "at": now, "error": error, "worker": job.get("worker_id"), "kind": error_kind.value,
        }
        change = JobChange(set={"error": error, "cancel_requested": False}, push={"errors": entry})
        if will_retry:
            base, cap = self.retry_by_type.get(
                job.get("job_type", ""), (self.retry_base_seconds, self.retry_max_seconds)
            )
            delay = domain.retry_delay_seconds(attempts, base, cap, self.rng.uniform(-0.5, 0.5))
            change.set["run_after"] = now + timedelta(seconds=delay)
            change.unset = ("heartbeat_at",) if keep_lease else ("lease_token", "heartbeat_at")
            # Waiting out its delay the job is scheduled: out of every claim until the sweeper promotes it.
            reason, to = (
                f"attempt {attempts} failed ({error_kind.value}); retry in {delay:.0f}s",
                _S if delay > 0 else _P,
            )
        else:
            change.set["completed_at"] = now
            change.unset = ("active_key",) if keep_lease else ("active_key", "lease_token")
            why = "a permanent failure: not retried" if not error_kind.retryable else "no retry left"
            reason, to = f"attempt {attempts} of {limit} failed ({error_kind.value}); {why}", JobStatus.FAILED
        followups = self._dataset_after_failure(job, will_retry, error, actor)
        return self.transition(job, to, actor=actor, reason=reason, change=change, followups=followups, fence=fence,
                               log=log, resources=resources)

    def _dataset_after_failure(
        self, job: dict[str, Any], will_retry: bool, error: str, actor: str
    ) -> list[dict[str, Any]]:
        stages = domain.DATASET_STAGES.get(job["job_type"])
        if not stages:
            return []
        last = stages.ready if will_retry else DatasetStatus.FAILED
        reason = "attempt failed; retry scheduled" if will_retry else "attempt failed; no attempts left"
        return [
            dataset_item(
                job["dataset_uuid"], [stages.error, last], job_id=job["job_id"], actor=actor, reason=reason,
                error_message=error,
            )
        ]

    # -- cancel -----------------------------------------------------------------------------
    def cancel(self, job_id: str, reason: str | None = None, actor: str | None = None) -> dict[str, Any]:
        """Cancel a pending or scheduled job at once, or ask the service running it to stop (``cancel_requested``).

        Raises NotFound for an unknown job and Conflict when the job has already ended.
        """
        who = actor or self.actor
        reason = reason or f"cancelled by {who}"
        for _ in range(3):
            job = self.require(job_id)
            if job["status"] in (_P, _S):
                done = self._finish_cancel(job, reason, who)
                if done is not None:
                    return done
            elif job["status"] == _R:
                now = self.store.now()
                change = JobChange(set={"cancel_requested": True, "cancel_reason": reason, "updated_at": now})
                event = job_event(job_id, _R, _R, at=now, actor=who, reason=f"cancel requested: {reason}")
                expect = {"status": _R.value, "lease_token": job.get("lease_token")}
                requested = self.store.update_job(job_id, expect, change, event)
                if requested is not None:
                    return requested
            else:
                raise Conflict(
                    f"job {job_id} is {job['status']}; only pending or running jobs (or "
                    "scheduled ones) can be cancelled"
                )
        raise Conflict(f"job {job_id} changed state while cancelling; try again")

    def mark_cancelled(self, job_id: str, lease_token: str, reason: str | None = None, actor: str | None = None,
                       log: str | None = None, resources: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The service's confirmation that a running job was stopped after a cancel request."""
        job = self._running(job_id, lease_token)
        if job is None:
            return None
        reason = reason or job.get("cancel_reason") or "cancelled"
        return self._finish_cancel(job, reason, actor or self.actor, log, resources)

    def _finish_cancel(self, job: dict[str, Any], reason: str, actor: str, log: str | None = None,
                       resources: dict[str, Any] | None = None) -> dict[str, Any] | None:
        now = self.store.now()
        change = JobChange(set={"completed_at": now, "error": reason, "cancel_requested": False}, unset=("active_key",))
        stages = domain.DATASET_STAGES.get(job["job_type"])
        followups = (
            [
                dataset_item(
                    job["dataset_uuid"], [stages.error], job_id=job["job_id"], actor=actor, reason="job cancelled",
                    error_message=reason,
                )
            ]
            if stages
            else []
        )
        return self.transition(job, JobStatus.CANCELLED, actor=actor, reason=reason, change=change, followups=followups,
                               log=log, resources=resources)

    # -- retry and release ------------------------------------------------------------------
    def retry(
        self, job_id: str, actor: str | None = None, *, allow_duplicate: bool = False, delay_seconds: float = 0.0
    ) -> dict[str, Any]:
        """Put a failed or cancelled job back to pending with a fresh set of attempts, and heal
        its dataset (from ``failed`` or the type's error status back to its ready status).
        ``delay_seconds`` > 0: the job is scheduled to start that much later instead.

        The retried job takes the dataset's active key for its type again (Conflict when another
        active job holds it), unless ``allow_duplicate``, as at creation: the flag is an
        administrator's word at each step, not stored in the job."""
        if not 0 <= delay_seconds <= MAX_DELAY_SECONDS:  # NaN fails too
            raise InvalidInput(
                f"a retry delay must be from 0 to {MAX_DELAY_SECONDS:.0f} seconds, got {delay_seconds:g}"
            )
        who = actor or self.actor
        job = self.require(job_id)
        if job["status"] not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise Conflict(f"job {job_id} is {job['status']}; only failed or cancelled jobs can be retried")
        now = self.store.now()
        fields: dict[str, Any] = {
            "attempts": 0, "run_after": now + timedelta(seconds=delay_seconds), "completed_at": None,
            "cancel_requested": False, "progress_percentage": 0, "progress_message": None,
        }
        if not allow_duplicate:
            fields["active_key"] = domain.active_key(job["dataset_uuid"], job["job_type"])
        stages = domain.DATASET_STAGES.get(job["job_type"])
        followups = (
            [
                dataset_item(
                    job["dataset_uuid"], [stages.ready], job_id=job_id, actor=who, reason="job retried", heal=True
                )
            ]
            if stages
            else []
        )
        change = JobChange(set=fields, unset=("lease_token", "heartbeat_at"))
        to, reason = (_S, f"explicit retry in {delay_seconds:.0f}s") if delay_seconds > 0 else (_P, "explicit retry")
        done = self.transition(job, to, actor=who, reason=reason, change=change, followups=followups)
        if done is None:
            raise Conflict(f"job {job_id} changed state while retrying; try again")
        return done

    def release(self, job_id: str, lease_token: str, reason: str = "service draining", actor: str | None = None,
                log: str | None = None) -> dict[str, Any] | None:
        """Give a running job back to pending without consuming an attempt (SIGTERM drain)."""
        job = self._running(job_id, lease_token)
        if job is None:
            return None
        # The spent lease stays on the job (as after every outcome its holder writes): see fail_attempt.
        change = JobChange(set={"run_after": self.store.now()}, unset=("heartbeat_at",), inc={"attempts": -1})
        return self.transition(job, _P, actor=actor or self.actor, reason=reason, change=change, log=log)

    # -- scheduled jobs ---------------------------------------------------------------------
    def run_now(self, job_id: str, actor: str | None = None) -> dict[str, Any]:
        """Promote one scheduled job to pending at once (``sc job run-now``); Conflict otherwise."""
        job = self.require(job_id)
        if job["status"] != _S:
            raise Conflict(f"job {job_id} is {job['status']}; only a scheduled job can be run now")
        change = JobChange(set={"run_after": self.store.now()})
        done = self.transition(job, _P, actor=actor or self.actor, reason="run now", change=change)
        if done is None:
            raise Conflict(f"job {job_id} changed state while promoting it; try again")
        return done

    # -- helpers ----------------------------------------------------------------------------
    def require(self, job_id: str) -> dict[str, Any]:
        """The job, or NotFound."""
        job = self.store.get_job(job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return job

    def _running(self, job_id: str, lease_token: str, claimed: dict[str, Any] | None = None) -> dict[str, Any] | None:
        # The claim's own copy is as good as a read: what a transition takes from it (type,
        # dataset, parameters, attempts) does not change while the job runs, and the write is
        # conditional on the status and the lease token, so a stale copy cannot win.
        known = claimed is not None and claimed.get("job_id") == job_id and claimed.get("lease_token") == lease_token
        job = claimed if known else self.store.get_job(job_id)
        if job is None or job.get("status") != _R or job.get("lease_token") != lease_token:
            return None
        return job


def _day_tally(job: dict[str, Any], change: JobChange) -> list[dict[str, Any]]:
    """The day-figures follow-up of a write that sets or clears ``completed_at``
    (see :func:`sccli.followups.tally_item`)."""
    after = None if "completed_at" in change.unset else change.set.get("completed_at", job.get("completed_at"))
    item = tally_item(job, after)
    return [item] if item else []
