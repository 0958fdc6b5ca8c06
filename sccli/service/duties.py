"""The supervisor's periodic store work: claims, heartbeats, progress, cancel polls, sweeps, idle checks.

:class:`StoreDuties` is an object the supervisor holds. It is handed what it needs: the store
link, the settings, who the service is (:class:`ServiceCard`) and the supervisor itself as a
:class:`JobControl` (the jobs running here; start one, stop one, stop the service). It keeps its
own clocks (``next``) and the names of its operations in flight. Every call here goes through the
store thread as an :class:`~sccli.service.storelink.Op` and its result comes back to the main thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sccli import __version__
from sccli.clock import utcnow
from sccli.domain import ACTIVE_STATUSES, JobStatus
from sccli.handlers.staging import remove_earlier_partials
from sccli.service.running import AttemptState, record_once
from sccli.service.storelink import Op, StoreLink
from sccli.store.base import JobQuery

if TYPE_CHECKING:
    from datetime import datetime

    from sccli.service.running import RunningJob
    from sccli.settings import Settings

log = logging.getLogger("sccli.service")

#: How often running jobs are checked for a cancel request (the contract: acted on within 2 s).
CANCEL_POLL = 0.5


def unfinished_work(store: Any, types: list[str], queue: Any = None) -> int:
    """Jobs of ``types`` scheduled, pending or running, plus jobs whose follow-ups still wait in an outbox
    (a chained job not created yet is work too: --until-idle must not exit before it)."""
    from datetime import timedelta

    active = store.count_jobs(JobQuery(status=[s.value for s in ACTIVE_STATUSES], job_type=types))
    if queue is not None and queue.lifecycle.acks is not None:  # this service's own pulls are not work left
        queue.lifecycle.acks.flush(store)
    if store.atomic_followups:
        return int(active)
    return int(active) + int(store.count_jobs(JobQuery(outbox_before=store.now() + timedelta(days=1))))


class JobControl(Protocol):
    """What the duties ask of the service that runs the jobs (the supervisor)."""

    @property
    def jobs(self) -> Mapping[str, RunningJob]:
        """The jobs this service runs, by id."""

    @property
    def stop_requested(self) -> bool:
        """True once the service drains or stops: nothing more is claimed."""

    @property
    def status(self) -> str:
        """The service's state for its ``workers`` document (running, draining, stopped)."""

    def start_job(self, job: dict[str, Any], memory_limit_mb: int | None = None) -> None:
        """Run a job just claimed in this service's name (under ``memory_limit_mb``, None: none)."""

    def stop_job(self, rj: RunningJob, reason: str) -> None:
        """Stop a running job (``lease_lost``, ``cancel``)."""

    def request_stop(self) -> None:
        """Stop the service once its jobs are done (``--until-idle`` found nothing left)."""


@dataclass(frozen=True)
class Claimed:
    """A job this service claimed, with its memory limit (MB, None: none) as the fleet controls
    read by that very claim and the settings give it (:func:`sccli.controls.memory_limit_mb`)."""

    job: dict[str, Any]
    memory_limit_mb: int | None


def claim_with_limits(
    queue: Any, settings: Settings, worker: str, types: list[str], host: str, pid: int
) -> Claimed | None:
    """Claim the next job (on the store thread) and resolve its memory limit from the claim's own
    ``queue_controls`` snapshot (no further read)."""
    from sccli.controls import memory_limit_mb, type_limits

    job = queue.claim_next(worker, types, host=host, pid=pid)
    if job is None:
        return None
    job_type = str(job["job_type"])
    limits = type_limits(queue.claim_policy.last_snapshot()).get(job_type)
    return Claimed(job, memory_limit_mb(job_type, limits, settings))


@dataclass(frozen=True)
class ServiceCard:
    """Who the service is: what its ``workers`` document, its claims and its releases carry."""

    worker_id: str
    host: str
    pid: int
    actor: str
    started_at: datetime
    types: list[str]
    wake_port: int


class StoreDuties:
    """Decides when to call the store and acts on the answers."""

    def __init__(
        self, link: StoreLink, settings: Settings, jobs: JobControl, card: ServiceCard, *,
        until_idle: bool = False, cancel_poll: float = CANCEL_POLL,
        on_recovered: Callable[[dict[str, Any]], None] = lambda job: None,
        on_ready: Callable[[str], None] = lambda status: None,
    ) -> None:
        """``on_recovered``: told of each job the sweeper recovered; ``on_ready``: told after each
        heartbeat the store took (systemd's READY)."""
        self.link, self.settings, self.control, self.card = link, settings, jobs, card
        self.until_idle, self.cancel_poll = until_idle, cancel_poll
        self.on_recovered, self.on_ready = on_recovered, on_ready
        self.inflight: set[str] = set()
        self.next = {"claim": 0.0, "beat": 0.0, "cancel": 0.0, "sweep": 0.0, "idle": 0.0}
        self.idle, self.check_orphans, self.woken = False, True, False

    # -- what the supervisor asks ------------------------------------------------------------
    def submit(self, op: Op) -> None:
        """Hand ``op`` to the store thread; a probe is in flight (by name) until its result is taken."""
        if not op.durable:
            self.inflight.add(op.name)
        self.link.submit(op)

    def take_results(self) -> None:
        """Act on the store's answers that came back (main thread)."""
        for op in self.link.results():
            self.inflight.discard(op.name)
            if op.done is not None:
                op.done(op.result, op.error)

    @property
    def claiming(self) -> bool:
        """A claim is in flight (it may yet return a job)."""
        return "claim" in self.inflight

    def claim_soon(self) -> None:
        """Claim at the next turn (a slot was freed)."""
        self.next["claim"] = 0.0

    def woken_up(self) -> None:
        """A job was created on this host: claim now (and again, should a claim in flight miss it)."""
        self.next["claim"] = 0.0
        self.woken = self.claiming

    def wake_at(self) -> list[float]:
        """The moments (monotonic) at which a duty falls due."""
        moments = [self.next["beat"]]
        if not self.control.stop_requested and self._free_slots() > 0 and not self.claiming:
            moments.append(self.next["claim"])
        if self.control.jobs:
            moments.append(self.next["cancel"])
        return moments

    def schedule(self, now: float) -> None:
        """Submit every duty that is due at ``now`` and not still in flight."""
        if self.link.recovered:
            self.link.recovered = False
            self.next["beat"] = now
            self.check_orphans = True
        if self.check_orphans and "orphans" not in self.inflight:
            self.check_orphans = False
            worker = self.card.worker_id
            mine = JobQuery(status=[JobStatus.RUNNING.value], worker_id=worker)
            self.submit(Op("orphans", lambda q: q.store.find_jobs(mine, limit=None), done=self._orphans_done))
        self._schedule_progress(now)
        s = self.settings
        if now >= self.next["beat"] and "beat" not in self.inflight:
            self.next["beat"] = now + s.heartbeat_seconds
            self.submit(Op("beat", self._beat_fn(), done=self._beat_done))
        if self.control.jobs and now >= self.next["cancel"] and "cancel" not in self.inflight:
            self.next["cancel"] = now + self.cancel_poll
            ids = [rj.job_id for rj in self.control.jobs.values() if rj.alive]
            if ids:
                asked = JobQuery(job_ids=ids, cancel_requested=True)
                self.submit(Op("cancel", lambda q: q.store.find_jobs(asked), done=self._cancel_done))
        settled = self.link.up_for() >= 2 * s.heartbeat_seconds
        if now >= self.next["sweep"] and "sweep" not in self.inflight and settled:
            self.next["sweep"] = now + s.heartbeat_seconds
            self.submit(Op("sweep", self._sweep, done=self._sweep_done))
        self._schedule_claim(now)
        self._schedule_idle_check(now)

    def _schedule_progress(self, now: float) -> None:
        for rj in self.control.jobs.values():
            due = now - rj.progress_written >= self.settings.progress_interval_seconds
            if rj.progress_dirty and not rj.progress_inflight and rj.alive and due:
                rj.progress_dirty, rj.progress_inflight, rj.progress_written = False, True, now
                self.link.submit(self._progress_op(rj))

    def _progress_op(self, rj: RunningJob) -> Op:
        job_id, token, (pct, msg) = rj.job_id, rj.token, rj.progress or (None, None)
        return Op(f"progress:{job_id}", lambda q: q.heartbeat(job_id, token, pct, msg), done=self._progress_done(rj))

    def _progress_done(self, rj: RunningJob) -> Any:
        def done(doc: Any, error: BaseException | None) -> None:
            rj.progress_inflight = False
            if error is None:
                self.after_heartbeat(rj.job_id, rj.token, doc)
        return done

    def _free_slots(self) -> int:
        return self.settings.workers - len(self.control.jobs)

    def _claimable_types(self) -> list[str]:
        running = Counter(rj.job_type for rj in self.control.jobs.values())
        caps = self.settings.max_concurrent_by_type
        return [t for t in self.card.types if t not in caps or running[t] < caps[t]]

    def _schedule_claim(self, now: float) -> None:
        if self.control.stop_requested or self._free_slots() <= 0 or now < self.next["claim"] or self.claiming:
            return
        types = self._claimable_types()
        if not types:
            self.next["claim"] = now + self.settings.poll_interval_seconds
            return
        worker, host, pid, settings = self.card.worker_id, self.card.host, self.card.pid, self.settings
        claim = lambda q: claim_with_limits(q, settings, worker, types, host, pid)  # noqa: E731
        self.submit(Op("claim", claim, done=self._claim_done))

    def _claim_done(self, claimed: Claimed | None, error: BaseException | None) -> None:
        now = time.monotonic()
        if error is not None or claimed is None:
            self.idle = error is None
            # A wake-up that came while this claim was in flight is for a job it may have missed.
            self.next["claim"] = now if self.woken and error is None else now + self.settings.poll_interval_seconds
            self.woken = False
            return
        self.idle = False
        job = claimed.job
        if self.control.stop_requested:
            self.submit(self._release_op(job["job_id"], job["lease_token"], "service draining"))
            return
        self.control.start_job(job, claimed.memory_limit_mb)
        self.next["claim"] = now

    def _schedule_idle_check(self, now: float) -> None:
        if not self.until_idle or self.control.stop_requested or self.control.jobs or not self.idle:
            return
        if now < self.next["idle"] or "idle" in self.inflight or self.link.pending_durable:
            return
        self.next["idle"] = now + self.settings.poll_interval_seconds
        types = self.card.types
        self.submit(Op("idle", lambda q: unfinished_work(q.store, types, q), done=self._idle_done))

    def _idle_done(self, count: int | None, error: BaseException | None) -> None:
        if error is None and count == 0 and self.idle and not self.control.jobs:
            log.info("nothing pending or running: exiting (--until-idle)")
            self.control.request_stop()

    # -- heartbeats, cancel, sweep ----------------------------------------------------------
    def worker_doc(self) -> dict[str, Any]:
        """This service's document in ``workers`` (read by ``sc service status``, explain and the monitor)."""
        return {
            "worker_id": self.card.worker_id, "host": self.card.host, "pid": self.card.pid,
            "started_at": self.card.started_at, "heartbeat_at": utcnow(), "status": self.control.status,
            "types": self.settings.types, "slots": self.settings.workers, "offline": self.settings.offline,
            "running_jobs": [rj.job_id for rj in self.control.jobs.values()], "version": __version__,
            "wake_port": self.card.wake_port,
        }

    def write_worker(self, q: Any) -> None:
        """Write :meth:`worker_doc` (store thread), after the pull of this service's deferred acks."""
        if q.lifecycle.acks is not None:  # the last one, at shutdown: no pull left behind
            q.lifecycle.acks.flush(q.store)
        q.store.upsert_worker(self.worker_doc())

    def _beat_fn(self) -> Any:
        pairs = [(rj.job_id, rj.token) for rj in self.control.jobs.values() if rj.state != AttemptState.RECORDED]
        doc = self.worker_doc()

        def fn(q: Any) -> list[tuple[str, str, Any]]:
            out = [(job_id, token, held) for (job_id, token), held in zip(pairs, q.heartbeat_many(pairs), strict=True)]
            q.store.upsert_worker({**doc, "heartbeat_at": q.store.now()})  # the store's clock, as for jobs
            if q.lifecycle.acks is not None:  # the outbox pulls of the jobs ended since the last beat
                q.lifecycle.acks.flush(q.store)
            return out
        return fn

    def _beat_done(self, beats: list[tuple[str, str, Any]] | None, error: BaseException | None) -> None:
        if error is None:  # the store took our heartbeat: ready for systemd (Type=notify)
            self.on_ready(f"serving {', '.join(self.card.types) or 'no types'} on {self.settings.workers} slot(s)")
        for job_id, token, doc in beats or []:
            self.after_heartbeat(job_id, token, doc)

    def after_heartbeat(self, job_id: str, token: str, doc: dict[str, Any] | None) -> None:
        """Act on the store's answer to a heartbeat of ``job_id``: stop it when the lease is lost,
        cancel it when asked to."""
        rj = self.control.jobs.get(job_id)
        if rj is None or rj.token != token:
            return
        if not doc:  # the heartbeat matched no running job with our lease
            rj.lease_lost = True
            log.warning(
                "job %s: lease lost (re-queued by a sweeper or changed by an administrator); stopping it", job_id,
                extra={"job_id": job_id},
            )
            self.control.stop_job(rj, "lease_lost")
        elif isinstance(doc, dict) and doc.get("cancel_requested") and rj.state == AttemptState.RUNNING:
            self._cancel(rj)

    def _cancel_done(self, docs: list[dict[str, Any]] | None, error: BaseException | None) -> None:
        for doc in docs or []:
            rj = self.control.jobs.get(doc["job_id"])
            if rj is not None and rj.state == AttemptState.RUNNING and doc.get("lease_token") == rj.token:
                self._cancel(rj)

    def _cancel(self, rj: RunningJob) -> None:
        log.info("job %s: cancel requested; stopping its process group", rj.job_id, extra={"job_id": rj.job_id})
        self.control.stop_job(rj, "cancel")

    def _orphans_done(self, docs: list[dict[str, Any]] | None, error: BaseException | None) -> None:
        """Give back jobs claimed in our name that we do not run: the answer to a claim was lost
        in an outage (or this worker id ran before and died). No attempt is used up."""
        if error is not None:
            self.check_orphans = True
            return
        for doc in docs or []:
            if doc["job_id"] in self.control.jobs or not doc.get("lease_token"):
                continue
            log.warning(
                "job %s is claimed in this service's name but not running here; putting it back to pending",
                doc["job_id"], extra={"job_id": doc["job_id"]},
            )
            reason = "claim answer lost; released by its worker"
            self.submit(self._release_op(doc["job_id"], doc["lease_token"], reason))

    def _release_op(self, job_id: str, token: str, reason: str) -> Op:
        actor = self.card.actor
        def release(q: Any) -> Any:
            return q.release(job_id, token, reason=reason, actor=actor)
        return Op(f"record:{job_id}", lambda q: record_once(q, release, job_id, token, "release"), durable=True)

    def _sweep(self, q: Any) -> dict[str, Any]:
        """Promote due scheduled jobs; re-queue stale jobs of dead services (store thread), not right
        after an outage, nor while outcomes of ours wait to be written: our own heartbeats are
        late then, not dead."""
        if self.link.up_for() < 2 * self.settings.heartbeat_seconds or self.link.pending_durable:
            return {"promoted": q.promote_due()}
        s = self.settings
        swept: dict[str, Any] = q.sweep(s.stale_after_seconds, starvation_minutes=s.starvation_minutes)
        return swept

    def _sweep_done(self, swept: dict[str, Any] | None, error: BaseException | None) -> None:
        swept = swept or {}
        if swept.get("promoted"):
            log.info("promoted %d due scheduled job(s) to pending", len(swept["promoted"]))
            self.next["claim"] = time.monotonic()  # claim them now, not at the next poll
        for job in swept.get("recovered") or []:
            self.on_recovered(job)
        ended = [
            job for job in swept.get("recovered") or [] if job["status"] not in (JobStatus.PENDING, JobStatus.SCHEDULED)
        ]
        if ended:  # no next attempt will clean up after the dead one: do it here, off the main loop (joined at exit)
            threading.Thread(target=remove_partials_of_ended, args=(ended, self.settings), name="sc-partials").start()
        if swept.get("outboxes"):
            log.warning("finished the follow-ups of %d job(s) left by an interrupted writer", swept["outboxes"])
        for job in swept.get("raised") or []:
            log.info(
                "job %s (%s) waited too long: priority raised to %s", job["job_id"], job["job_type"], job["priority"],
                extra={"job_id": job["job_id"]},
            )


def remove_partials_of_ended(jobs: list[dict[str, Any]], settings: Settings) -> None:
    """Remove every partial output the dead attempts of these ended jobs left (recovery failed them)."""
    for job in jobs:
        try:
            removed = remove_earlier_partials(job, settings, keep_own=False)
        except OSError as exc:
            log.warning("partial outputs of job %s could not be removed: %s", job["job_id"], exc,
                        extra={"job_id": job["job_id"]})
            continue
        if removed:
            log.info("removed %d partial output(s) of recovered job %s", len(removed), job["job_id"],
                     extra={"job_id": job["job_id"]})
