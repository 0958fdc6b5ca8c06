"""The supervisor's periodic store work: claims, heartbeats, progress, cancel polls, sweeps, idle checks.

:class:`StoreDuties` is mixed into :class:`sccli.service.supervisor.Supervisor`; every call here
goes through the store thread as an :class:`~sccli.service.storelink.Op` and its result comes
back to the main thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sccli import __version__
from sccli.clock import utcnow
from sccli.domain import ACTIVE_STATUSES, JobStatus
from sccli.handlers.staging import remove_earlier_partials
from sccli.service.running import AttemptState, record_once
from sccli.service.storelink import Op, StoreLink
from sccli.store.base import JobQuery

if TYPE_CHECKING:
    from datetime import datetime

    from sccli.service.config import ServiceOptions
    from sccli.service.outcomes import OutcomeReporter
    from sccli.service.periodic import PeriodicDuties
    from sccli.service.running import RunningJob
    from sccli.service.sdnotify import SystemdNotifier
    from sccli.settings import Settings
    from sccli.wakeup import WakeSocket

log = logging.getLogger("sccli.service")


def unfinished_work(store: Any, types: list[str]) -> int:
    """Jobs of ``types`` scheduled, pending or running, plus jobs whose follow-ups still wait in an outbox
    (a chained job not created yet is work too: --until-idle must not exit before it)."""
    from datetime import timedelta

    active = store.count_jobs(JobQuery(status=[s.value for s in ACTIVE_STATUSES], job_type=types))
    if store.atomic_followups:
        return int(active)
    return int(active) + int(store.count_jobs(JobQuery(outbox_before=store.now() + timedelta(days=1))))


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
    limits = type_limits(queue.controls(reuse=True)).get(job_type)
    return Claimed(job, memory_limit_mb(job_type, limits, settings))


class StoreDuties:
    """Decides when to call the store and acts on the answers."""

    settings: Settings
    options: ServiceOptions
    link: StoreLink
    jobs: dict[str, RunningJob]
    inflight: set[str]
    next: dict[str, float]
    types: list[str]
    worker_id: str
    host: str
    pid: int
    actor: str
    status: str
    started_at: datetime
    stop_requested: bool
    check_orphans: bool
    idle: bool
    cancel_poll: float
    wake: WakeSocket
    woken: bool
    outcomes: OutcomeReporter
    systemd: SystemdNotifier
    periodic: PeriodicDuties

    # The supervisor's own moves, which the store's answers trigger.
    def _start_job(self, job: dict[str, Any], memory_limit_mb: int | None = None) -> None:
        raise NotImplementedError

    def _stop_job(self, rj: RunningJob, reason: str, grace: float | None = None) -> None:
        raise NotImplementedError

    def _submit(self, op: Op) -> None:
        if not op.durable:
            self.inflight.add(op.name)
        self.link.submit(op)

    def _schedule(self, now: float) -> None:
        if self.link.recovered:
            self.link.recovered = False
            self.next["beat"] = now
            self.check_orphans = True
        if self.check_orphans and "orphans" not in self.inflight:
            self.check_orphans = False
            worker = self.worker_id
            self._submit(Op("orphans", lambda q: q.store.find_jobs(JobQuery(status=[JobStatus.RUNNING.value], worker_id=worker), limit=None), done=self._orphans_done))
        self._schedule_progress(now)
        s = self.settings
        if now >= self.next["beat"] and "beat" not in self.inflight:
            self.next["beat"] = now + s.heartbeat_seconds
            self._submit(Op("beat", self._beat_fn(), done=self._beat_done))
        if self.jobs and now >= self.next["cancel"] and "cancel" not in self.inflight:
            self.next["cancel"] = now + self.cancel_poll
            ids = [rj.job_id for rj in self.jobs.values() if rj.alive]
            if ids:
                self._submit(Op("cancel", lambda q: q.store.find_jobs(JobQuery(job_ids=ids, cancel_requested=True)), done=self._cancel_done))
        if now >= self.next["sweep"] and "sweep" not in self.inflight and self.link.up_for() >= 2 * s.heartbeat_seconds:
            self.next["sweep"] = now + s.heartbeat_seconds
            self._submit(Op("sweep", self._sweep, done=self._sweep_done))
        self._schedule_claim(now)
        self._schedule_idle_check(now)
        if not self.stop_requested:
            self.periodic.tick(now, self._submit, self.inflight)

    def _schedule_progress(self, now: float) -> None:
        for rj in self.jobs.values():
            if rj.progress_dirty and not rj.progress_inflight and rj.alive and now - rj.progress_written >= self.settings.progress_interval_seconds:
                rj.progress_dirty, rj.progress_inflight, rj.progress_written = False, True, now
                self.link.submit(self._progress_op(rj))

    def _progress_op(self, rj: RunningJob) -> Op:
        job_id, token, (pct, msg) = rj.job_id, rj.token, rj.progress or (None, None)
        return Op(f"progress:{job_id}", lambda q: q.heartbeat(job_id, token, pct, msg), done=self._progress_done(rj))

    def _progress_done(self, rj: RunningJob) -> Any:
        def done(doc: Any, error: BaseException | None) -> None:
            rj.progress_inflight = False
            if error is None:
                self._after_heartbeat(rj.job_id, rj.token, doc)
        return done

    def _free_slots(self) -> int:
        return self.settings.workers - len(self.jobs)

    def _claimable_types(self) -> list[str]:
        running = Counter(rj.job_type for rj in self.jobs.values())
        caps = self.settings.max_concurrent_by_type
        return [t for t in self.types if t not in caps or running[t] < caps[t]]

    def _schedule_claim(self, now: float) -> None:
        if self.stop_requested or self._free_slots() <= 0 or now < self.next["claim"] or "claim" in self.inflight:
            return
        types = self._claimable_types()
        if not types:
            self.next["claim"] = now + self.settings.poll_interval_seconds
            return
        worker, host, pid, settings = self.worker_id, self.host, self.pid, self.settings
        claim = lambda q: claim_with_limits(q, settings, worker, types, host, pid)  # noqa: E731
        self._submit(Op("claim", claim, done=self._claim_done))

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
        if self.stop_requested:
            self._submit(self._release_op(job["job_id"], job["lease_token"], "service draining"))
            return
        self._start_job(job, claimed.memory_limit_mb)
        self.next["claim"] = now

    def _schedule_idle_check(self, now: float) -> None:
        if not self.options.until_idle or self.stop_requested or self.jobs or not self.idle:
            return
        if now < self.next["idle"] or "idle" in self.inflight or self.link.pending_durable:
            return
        self.next["idle"] = now + self.settings.poll_interval_seconds
        types = self.types
        self._submit(Op("idle", lambda q: unfinished_work(q.store, types), done=self._idle_done))

    def _idle_done(self, count: int | None, error: BaseException | None) -> None:
        if error is None and count == 0 and self.idle and not self.jobs:
            log.info("nothing pending or running: exiting (--until-idle)")
            self.stop_requested = True

    # -- heartbeats, cancel, sweep ----------------------------------------------------------
    def worker_doc(self) -> dict[str, Any]:
        """This service's document in ``workers`` (read by ``sc service status``, explain and the monitor)."""
        return {
            "worker_id": self.worker_id, "host": self.host, "pid": self.pid, "started_at": self.started_at,
            "heartbeat_at": utcnow(), "status": self.status, "types": self.settings.types, "slots": self.settings.workers,
            "offline": self.settings.offline, "running_jobs": [rj.job_id for rj in self.jobs.values()], "version": __version__,
            "wake_port": self.wake.port,
        }

    def _worker_write(self, q: Any) -> None:
        q.store.upsert_worker(self.worker_doc())

    def _beat_fn(self) -> Any:
        pairs = [(rj.job_id, rj.token) for rj in self.jobs.values() if rj.state != AttemptState.RECORDED]
        doc = self.worker_doc()

        def fn(q: Any) -> list[tuple[str, str, Any]]:
            out = [(job_id, token, held) for (job_id, token), held in zip(pairs, q.heartbeat_many(pairs), strict=True)]
            q.store.upsert_worker({**doc, "heartbeat_at": q.store.now()})  # the store's clock, as for jobs
            return out
        return fn

    def _beat_done(self, beats: list[tuple[str, str, Any]] | None, error: BaseException | None) -> None:
        if error is None:  # the store took our heartbeat: ready for systemd (Type=notify)
            self.systemd.ready(f"serving {', '.join(self.types) or 'no types'} on {self.settings.workers} slot(s)")
        for job_id, token, doc in beats or []:
            self._after_heartbeat(job_id, token, doc)

    def _after_heartbeat(self, job_id: str, token: str, doc: dict[str, Any] | None) -> None:
        rj = self.jobs.get(job_id)
        if rj is None or rj.token != token:
            return
        if not doc:  # the heartbeat matched no running job with our lease
            rj.lease_lost = True
            log.warning("job %s: lease lost (re-queued by a sweeper or changed by an administrator); stopping it", job_id, extra={"job_id": job_id})
            self._stop_job(rj, "lease_lost")
        elif isinstance(doc, dict) and doc.get("cancel_requested") and rj.state == AttemptState.RUNNING:
            self._cancel(rj)

    def _cancel_done(self, docs: list[dict[str, Any]] | None, error: BaseException | None) -> None:
        for doc in docs or []:
            rj = self.jobs.get(doc["job_id"])
            if rj is not None and rj.state == AttemptState.RUNNING and doc.get("lease_token") == rj.token:
                self._cancel(rj)

    def _cancel(self, rj: RunningJob) -> None:
        log.info("job %s: cancel requested; stopping its process group", rj.job_id, extra={"job_id": rj.job_id})
        self._stop_job(rj, "cancel")

    def _orphans_done(self, docs: list[dict[str, Any]] | None, error: BaseException | None) -> None:
        """Give back jobs claimed in our name that we do not run: the answer to a claim was lost
        in an outage (or this worker id ran before and died). No attempt is used up."""
        if error is not None:
            self.check_orphans = True
            return
        for doc in docs or []:
            if doc["job_id"] in self.jobs or not doc.get("lease_token"):
                continue
            log.warning("job %s is claimed in this service's name but not running here; putting it back to pending", doc["job_id"], extra={"job_id": doc["job_id"]})
            self._submit(self._release_op(doc["job_id"], doc["lease_token"], "claim answer lost; released by its worker"))

    def _release_op(self, job_id: str, token: str, reason: str) -> Op:
        actor = self.actor
        def release(q: Any) -> Any:
            return q.release(job_id, token, reason=reason, actor=actor)
        return Op(f"record:{job_id}", lambda q: record_once(q, release, job_id, token, "release"), durable=True)

    def _sweep(self, q: Any) -> dict[str, Any]:
        """Promote due scheduled jobs; re-queue stale jobs of dead services (store thread), not right
        after an outage, nor while outcomes of ours wait to be written: our own heartbeats are
        late then, not dead."""
        if self.link.up_for() < 2 * self.settings.heartbeat_seconds or self.link.pending_durable:
            return {"promoted": q.promote_due()}
        return q.sweep(self.settings.stale_after_seconds, starvation_minutes=self.settings.starvation_minutes)  # type: ignore[no-any-return]

    def _sweep_done(self, swept: dict[str, Any] | None, error: BaseException | None) -> None:
        swept = swept or {}
        if swept.get("promoted"):
            log.info("promoted %d due scheduled job(s) to pending", len(swept["promoted"]))
            self.next["claim"] = time.monotonic()  # claim them now, not at the next poll
        for job in swept.get("recovered") or []:
            self.outcomes.recovered(job)
        ended = [job for job in swept.get("recovered") or [] if job["status"] not in (JobStatus.PENDING, JobStatus.SCHEDULED)]
        if ended:  # no next attempt will clean up after the dead one: do it here, off the main loop (joined at exit)
            threading.Thread(target=remove_partials_of_ended, args=(ended, self.settings), name="sc-partials").start()
        if swept.get("outboxes"):
            log.warning("finished the follow-ups of %d job(s) left by an interrupted writer", swept["outboxes"])
        for job in swept.get("raised") or []:
            log.info("job %s (%s) waited too long: priority raised to %s", job["job_id"], job["job_type"], job["priority"], extra={"job_id": job["job_id"]})


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
