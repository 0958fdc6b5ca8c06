"""The job queue: create, claim, finish, retry, cancel and recover jobs.

Every write is conditional on the status the queue expects (and, for running jobs, on the
lease token of the claim), every transition is logged in ``job_events`` with its actor, and
dataset statuses move only through :func:`sccli.datasets.move_dataset`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sccli import domain, jobdoc, sweeps
from sccli.claim_policy import ClaimPolicy
from sccli.claiming import claim_one
from sccli.clock import iso
from sccli.domain import ErrorKind, JobStatus
from sccli.errors import InvalidInput, NotFound
from sccli.events import job_event
from sccli.followups import crash_point, dataset_item, drain_outbox, event_item, outbox_batch, run_followups
from sccli.lifecycle import JobLifecycle
from sccli.openers import as_store, default_actor
from sccli.store.base import ClaimFilter, JobChange, JobQuery, Store

if TYPE_CHECKING:
    from sccli.settings import Settings

#: A creation's wake-up reuses the services it read this long: a service started since is
#: found by its own poll (at most one poll interval later), never a lost job.
WORKERS_TTL_SECONDS = 5.0


class JobQueue:
    """The queue over one store: create and claim jobs here; transitions of existing jobs are
    :class:`~sccli.lifecycle.JobLifecycle`'s (``queue.lifecycle``, its moves also exposed here).
    ``JobQueue(MongoClient(url), "scientistcloud")`` works too."""

    def __init__(self, store: Store | Any = None, db_name: str | None = None, *, actor: str | None = None,
                 retry_base_seconds: float = 30.0, retry_max_seconds: float = 3600.0, extra_types: Iterable[str] = (),
                 rng: random.Random | None = None, settings: Settings | None = None) -> None:
        self.store = as_store(store, db_name)
        self.extra_types = frozenset(extra_types)
        self.settings = settings
        #: The claim's rules (pauses, the gate, the fair share) and their ``queue_controls`` snapshot.
        self.claim_policy = ClaimPolicy(self.store)
        #: How long creations reuse the ``workers`` documents read for the wake-up (seconds).
        self.workers_ttl = WORKERS_TTL_SECONDS
        self._workers: tuple[float, list[dict[str, Any]]] | None = None
        self._limits_read: tuple[Any, dict[str, Any]] | None = None
        self.plugin_settings = settings
        self.lifecycle = JobLifecycle(
            self.store, self.build_job, actor or default_actor(), retry_base_seconds, retry_max_seconds,
            rng or random.Random(),
        )

    @classmethod
    def from_settings(
        cls, store: Store, settings: Settings, *, actor: str | None = None, check_paths: bool = True
    ) -> JobQueue:
        """A queue with the settings' retry delays that knows every plugin job type (settings
        ``handlers`` and the ``sccli.handlers`` entry points). ``check_paths``: refuse job paths
        outside the settings' data directories at creation (when real settings were given)."""
        from sccli.handlers import plugin_types

        queue = cls(
            store, actor=actor, retry_base_seconds=settings.retry_base_seconds,
            retry_max_seconds=settings.retry_max_seconds, extra_types=plugin_types(settings),
            settings=settings if check_paths else None,
        )
        queue.lifecycle.retry_by_type = {t: settings.retry_policy(t) for t in settings.retry_by_type}
        queue.plugin_settings = settings  # the plugins' DEFAULTS apply whether paths are checked or not
        return queue

    @property
    def actor(self) -> str:
        """Who this queue's writes are recorded as (``job_events.actor``)."""
        return self.lifecycle.actor

    @actor.setter
    def actor(self, value: str) -> None:
        self.lifecycle.actor = value

    @property
    def known_types(self) -> list[str]:
        """Built-in and plugin job types, sorted."""
        return sorted({*domain.JOB_TYPE_CONFIGS, *self.extra_types})

    # -- creation ---------------------------------------------------------------------------
    def create_job(
        self,
        dataset_uuid: str,
        job_type: str,
        parameters: dict[str, Any] | None = None,
        priority: int | str | None = None,
        max_attempts: int | None = None,
        timeout_minutes: int | None = None,
        *,
        allow_missing_dataset: bool = False,
        allow_duplicate: bool = False,
        run_after_seconds: float = 0.0,
        parent_job_id: str | None = None,
        migration_id: str | None = None,
        created_by: str | None = None,
        actor: str | None = None,
        job_id: str | None = None,
        schedule_id: str | None = None,
        run_at: datetime | None = None,
        delay: float | timedelta | None = None,
    ) -> str:
        """Validate and enqueue a job; return its ``job_id``. Nothing is written on bad input.
        ``job_id`` is given by a schedule's fire (derived from the schedule and the fire time);
        ``schedule_id`` marks the job as fired by that schedule.

        ``run_at`` (aware, or naive = UTC) or ``delay`` (seconds or a timedelta; the older
        ``run_after_seconds`` is the same): the job is ``scheduled`` until then (a time already
        past runs at once).
        The job, its creation event and its dataset's move to the type's queued status are
        written together (one transaction, or the job's outbox)."""
        who = actor or self.actor
        start = self.start_time(run_at, delay if delay is not None else run_after_seconds or None)
        doc = self.build_job(
            dataset_uuid, job_type, parameters, priority, max_attempts, timeout_minutes,
            allow_duplicate=allow_duplicate, run_at=start, job_id=job_id,
            parent_job_id=parent_job_id, migration_id=migration_id, created_by=created_by or who,
        )
        if schedule_id is not None:
            doc["schedule_id"] = schedule_id
        dataset = self.store.get_dataset(dataset_uuid)
        if dataset is None and not allow_missing_dataset:
            raise NotFound(
                f"dataset {dataset_uuid} not found (pass allow_missing_dataset / --allow-missing-dataset "
                "to create the job anyway)"
            )
        reason = "created" if doc["status"] == JobStatus.PENDING else f"created; starts at {iso(doc['run_after'])}"
        event = job_event(doc["job_id"], None, doc["status"], at=doc["created_at"], actor=who, reason=reason)
        if dataset is not None and dataset.get("user") is not None:
            doc["user"] = str(dataset["user"])  # fair sharing between users (sccli.fairness)
        stages = domain.DATASET_STAGES.get(job_type)
        followups = []
        if dataset is not None and stages and stages.queued:
            followups.append(dataset_item(dataset_uuid, [stages.queued], job_id=doc["job_id"], actor=who,
                                          reason=f"{job_type} job created", seen=dataset))
        self._insert(doc, event, followups)
        if doc["status"] == JobStatus.PENDING:
            self._wake_services(str(doc["job_id"]))
        return str(doc["job_id"])

    def start_time(self, run_at: datetime | None, delay: float | timedelta | None) -> datetime | None:
        """When a new job may start (UTC), from an absolute time or a delay; None: at once."""
        return jobdoc.start_time(self.store.now(), run_at, delay)

    def _wake_services(self, job_id: str | None = None) -> None:
        """Best effort: an idle service on this host claims the new job now, not at its next poll
        (``job_id`` None: every idle one). The ``workers`` read is reused for ``workers_ttl`` seconds."""
        from sccli.errors import ScError
        from sccli.wakeup import wake_local_services

        try:
            now = time.monotonic()
            if self._workers is None or now - self._workers[0] >= self.workers_ttl:
                self._workers = (now, self.store.list_workers())
            wake_local_services(self._workers[1], key=job_id)
        except ScError:  # the job is written; a service's poll finds it anyway
            pass

    def _insert(self, doc: dict[str, Any], event: dict[str, Any], followups: list[dict[str, Any]]) -> None:
        store = self.store
        if store.atomic_followups:
            with store.atomic():
                store.insert_job(doc, event)
                run_followups(store, followups)
            return
        doc["outbox"] = [outbox_batch([event_item(event), *followups], doc["created_at"], deferred=not followups)]
        store.insert_job(doc)
        crash_point("after_job_write", doc["status"])
        drain_outbox(store, doc, own=doc["outbox"][0]["id"])

    def build_job(
        self,
        dataset_uuid: str,
        job_type: str,
        parameters: dict[str, Any] | None,
        priority: int | str | None,
        max_attempts: int | None,
        timeout_minutes: int | None,
        *,
        allow_duplicate: bool = False,
        run_after_seconds: float = 0.0,
        parent_job_id: str | None = None,
        migration_id: str | None = None,
        created_by: str | None = None,
        job_id: str | None = None,
        declaration_checked: bool = False,
        run_at: datetime | None = None,
    ) -> dict[str, Any]:
        """The validated job document, not yet written (migration batches these).

        ``run_at`` in the future: the job is ``scheduled`` until then (the sweeper promotes it).
        ``run_after_seconds`` keeps it ``pending`` with a later ``run_after`` (the migration's
        grace period: a claim still never starts it early).

        ``declaration_checked``: the caller has checked the parameters against the type's
        declaration, paths included (the migration's plan does, resolving each data directory
        once per run); they are still checked to be storable JSON."""
        self.check_type(job_type)
        if not domain.is_valid_uuid(dataset_uuid):
            raise InvalidInput(f"malformed dataset UUID {dataset_uuid!r} (expected 8-4-4-4-12 hex)")
        if declaration_checked:
            parameters = jobdoc.storable_parameters(parameters)
        else:
            parameters = self.check_parameters(job_type, parameters, dataset_uuid)
        return jobdoc.new_job(
            dataset_uuid, job_type, parameters, self.type_defaults(job_type), self.store.now(),
            priority=priority, max_attempts=max_attempts, timeout_minutes=timeout_minutes,
            run_after_seconds=run_after_seconds, run_at=run_at, job_id=job_id, parent_job_id=parent_job_id,
            migration_id=migration_id, created_by=created_by or self.actor, allow_duplicate=allow_duplicate,
        )

    def type_defaults(self, job_type: str) -> dict[str, Any]:
        """A new job's priority, timeout, attempts when it gives none (controls read ≤ 1/s: migrations)."""
        from sccli.controls import read_limits, type_defaults

        if self._limits_read is None or (self.store.now() - self._limits_read[0]).total_seconds() > 1.0:
            self._limits_read = (self.store.now(), read_limits(self.store))
        return type_defaults(job_type, self._limits_read[1].get(job_type), self.plugin_settings)

    def check_type(self, job_type: str) -> None:
        """Refuse job types that are neither built in nor registered as plugins."""
        if not domain.is_builtin_type(job_type) and job_type not in self.extra_types:
            raise InvalidInput(f"unknown job type {job_type!r} (known: {', '.join(self.known_types)})")

    def check_parameters(self, job_type: str, parameters: Any, dataset_uuid: str | None = None) -> dict[str, Any]:
        """Parameters as the store can hold them and as the job type declares them (names,
        types, required ones; paths inside the data directories when the queue has settings,
        and, given the job's ``dataset_uuid``, outside every other dataset's directory)."""
        from sccli.handlers.specs import check_parameters

        parameters = jobdoc.storable_parameters(parameters)
        plugin_spec = None
        if (
            self.settings is not None
            and not domain.is_builtin_type(job_type)
            or self.settings is not None
            and job_type in self.settings.handlers
        ):
            from sccli.handlers import plugin_parameters

            plugin_spec = plugin_parameters(job_type, self.settings)
        check_parameters(job_type, parameters, self.settings, plugin_spec=plugin_spec, dataset_uuid=dataset_uuid)
        return parameters

    # -- reading ----------------------------------------------------------------------------
    def get_job(self, job_id: str) -> dict[str, Any] | None:
        """The job document, or None."""
        return self.store.get_job(job_id)

    def require_job(self, job_id: str) -> dict[str, Any]:
        """The job document, or NotFound."""
        return self.lifecycle.require(job_id)

    def list_jobs(self, query: JobQuery | None = None, limit: int | None = 50, offset: int = 0) -> list[dict[str, Any]]:
        """Jobs matching ``query``, newest first, at most ``limit`` after ``offset``."""
        return self.store.find_jobs(query or JobQuery(), limit=limit, offset=offset)

    def count_jobs(self, query: JobQuery | None = None) -> int:
        """How many jobs match ``query`` (counted in the database)."""
        return self.store.count_jobs(query or JobQuery())

    def job_events(self, job_id: str) -> list[dict[str, Any]]:
        """The job's recorded events (transitions, retries, cancels), oldest first."""
        return self.store.find_events(job_id)

    # -- claiming ---------------------------------------------------------------------------
    def claim_next(self, worker: str, types: Sequence[str] | None = None, host: str | None = None,
                   pid: int | None = None) -> dict[str, Any] | None:
        """Atomically claim the next job for ``worker`` as :attr:`claim_policy` allows (paused types
        left alone, capped or rate-limited types through their gate, users served fairly); the job as
        it is after the claim, or None. Claim, event and the dataset's move to its working status are
        written together. The controls are read again after an empty claim (the next poll or wake-up)
        or after ``controls_ttl``; claims in a row in between share them."""
        store = self.store

        def write(some: Sequence[str], *, lease_token: str | None, now: datetime | None,
                  narrow: ClaimFilter) -> dict[str, Any] | None:
            return claim_one(store, worker, some, host, pid, lease_token=lease_token, now=now, narrow=narrow)

        return self.claim_policy.claim(self.known_types if types is None else list(types), write, worker)

    @property
    def controls_ttl(self) -> float:
        """How long claims in a row may reuse the ``queue_controls`` read by the first (seconds; 0:
        read them for every claim). A service sets its poll interval: read once per poll, not per claim."""
        return self.claim_policy.ttl

    @controls_ttl.setter
    def controls_ttl(self, seconds: float) -> None:
        self.claim_policy.ttl = seconds

    def heartbeat(
        self, job_id: str, lease_token: str, progress: float | None = None, message: str | None = None
    ) -> bool:
        """Refresh a running job's heartbeat (and progress): a plain update; False when the lease is lost."""
        fields: dict[str, Any] = {"heartbeat_at": self.store.now()}
        if progress is not None:
            fields["progress_percentage"] = round(max(0.0, min(100.0, float(progress))), 1)
        if message is not None:
            fields["progress_message"] = str(message)[:500]
        return self.store.touch_job(job_id, {"status": JobStatus.RUNNING.value, "lease_token": lease_token}, fields)

    def heartbeat_many(self, leases: Sequence[tuple[str, str]]) -> list[bool]:
        """Refresh the heartbeat of each ``(job_id, lease_token)`` (a service's running jobs), each
        fenced by its own lease, in one write where the store can; whether each still holds its lease."""
        fences = [(job_id, {"status": JobStatus.RUNNING.value, "lease_token": token}) for job_id, token in leases]
        return self.store.touch_jobs(fences, {"heartbeat_at": self.store.now()})

    def add_log(self, job_id: str, message: str) -> None:
        """Append a capped ``{timestamp, message}`` entry to the job's ``logs``."""
        self.store.update_jobs(
            JobQuery(job_ids=[job_id]), JobChange(push={"logs": {"timestamp": self.store.now(), "message": message}})
        )

    # -- transitions of existing jobs (JobLifecycle) ----------------------------------------
    def complete(self, job_id: str, lease_token: str, result: dict[str, Any] | None = None, actor: str | None = None, *,
                 log: str | None = None, claimed: dict[str, Any] | None = None,
                 resources: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """See :meth:`JobLifecycle.complete`."""
        return self.lifecycle.complete(job_id, lease_token, result, actor, log=log, claimed=claimed,
                                       resources=resources)

    def fail(
        self, job_id: str, lease_token: str, error: str, *, kind: str = ErrorKind.ERROR, retry: bool = True,
        actor: str | None = None, log: str | None = None, claimed: dict[str, Any] | None = None,
        resources: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """See :meth:`JobLifecycle.fail`."""
        return self.lifecycle.fail(job_id, lease_token, error, kind=kind, retry=retry, actor=actor, log=log,
                                   claimed=claimed, resources=resources)

    def fail_attempt(
        self, job: dict[str, Any], error: str, *, kind: str, retry: bool, actor: str
    ) -> dict[str, Any] | None:
        """See :meth:`JobLifecycle.fail_attempt`."""
        return self.lifecycle.fail_attempt(job, error, kind=kind, retry=retry, actor=actor)

    def cancel(self, job_id: str, reason: str | None = None, actor: str | None = None) -> dict[str, Any]:
        """See :meth:`JobLifecycle.cancel`."""
        return self.lifecycle.cancel(job_id, reason, actor)

    def mark_cancelled(self, job_id: str, lease_token: str, reason: str | None = None, actor: str | None = None,
                       log: str | None = None, resources: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """See :meth:`JobLifecycle.mark_cancelled`."""
        return self.lifecycle.mark_cancelled(job_id, lease_token, reason, actor, log, resources)

    def retry(
        self, job_id: str, actor: str | None = None, *, allow_duplicate: bool = False, delay_seconds: float = 0.0
    ) -> dict[str, Any]:
        """See :meth:`JobLifecycle.retry`."""
        return self.lifecycle.retry(job_id, actor, allow_duplicate=allow_duplicate, delay_seconds=delay_seconds)

    def run_now(self, job_id: str, actor: str | None = None) -> dict[str, Any]:
        """See :meth:`JobLifecycle.run_now`."""
        done = self.lifecycle.run_now(job_id, actor)
        self._wake_services(job_id)
        return done

    def promote_due(self, actor: str = "sweeper") -> list[dict[str, Any]]:
        """See :func:`sccli.sweeps.promote_due`."""
        return sweeps.promote_due(self.lifecycle, actor)

    def release(self, job_id: str, lease_token: str, reason: str = "service draining", actor: str | None = None,
                log: str | None = None) -> dict[str, Any] | None:
        """See :meth:`JobLifecycle.release`."""
        return self.lifecycle.release(job_id, lease_token, reason, actor, log)

    def requeue_stale(
        self, stale_after_seconds: float = 60.0, actor: str = "sweeper", limit: int = 500
    ) -> list[dict[str, Any]]:
        """See :func:`sccli.sweeps.requeue_stale`."""
        return sweeps.requeue_stale(self.lifecycle, stale_after_seconds, actor, limit)

    def sweep(
        self, stale_after_seconds: float, *, starvation_minutes: float | None = None, actor: str = "sweeper"
    ) -> dict[str, Any]:
        """A service's periodic recovery: due scheduled jobs promoted, stale jobs re-queued,
        follow-ups left in outboxes by a crashed writer finished (older than ``stale_after_seconds``),
        and (when set) the starvation guard. What it did, for the service's log."""
        from sccli.followups import drain_stale_outboxes

        promoted = sweeps.promote_due(self.lifecycle, actor)
        recovered = sweeps.requeue_stale(self.lifecycle, stale_after_seconds, actor)
        drained = drain_stale_outboxes(self.store, self.store.now() - timedelta(seconds=stale_after_seconds))
        raised = sweeps.promote_starving(self.lifecycle, starvation_minutes, actor) if starvation_minutes else []
        return {"promoted": promoted, "recovered": recovered, "outboxes": drained, "raised": raised}

    def finish_followups(self, job: dict[str, Any]) -> None:
        """Run what a transition of ``job`` left in its outbox (a crash, an outage)."""
        drain_outbox(self.store, job)
