"""The supervisor: claims jobs, runs each in a child process, and records what became of it.

One main thread watches children, clocks and signals; every store call goes through the
:class:`~sccli.service.storelink.StoreLink` thread, so a slow or unreachable store never stops
the service from enforcing timeouts, acting on signals or keeping its children running.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from typing import Any

from sccli.clock import utcnow
from sccli.domain import ServiceState
from sccli.errors import EXIT_INTERNAL
from sccli.service import procs, protocol
from sccli.service.changes import watch_changes
from sccli.service.config import ServiceOptions, default_worker_id, preload_modules
from sccli.service.duties import ServiceCard, StoreDuties
from sccli.service.launcher import Launched, Launcher, TemplateLost, kill_group
from sccli.service.outcomes import AttemptNote, OutcomeReporter
from sccli.service.periodic import service_duties
from sccli.service.promotions import keep_attempt_log, serve_promotions
from sccli.service.resources import MemoryWatch, Usage
from sccli.service.running import AttemptState, RunningJob, attempt_summary, failure_of, outcome_write
from sccli.service.sdnotify import SystemdNotifier
from sccli.service.storelink import Op, StoreLink
from sccli.service.waiting import Waiter
from sccli.settings import Settings
from sccli.wakeup import WakeSocket

log = logging.getLogger("sccli.service")

#: A handler's cleanup may take this long before it is killed too.
CLEANUP_TIMEOUT = 60.0


class Supervisor:
    """Runs jobs of ``types`` on ``settings.workers`` slots until stopped (or idle, with --until-idle)."""

    def __init__(self, queue: Any, settings: Settings, types: list[str], options: ServiceOptions | None = None) -> None:
        self.settings = settings
        self.types = types
        self.options = options or ServiceOptions()
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.worker_id = self.options.worker_id or default_worker_id()
        self.actor = f"worker:{self.host}:{self.pid}"
        queue.actor = self.actor
        beat = settings.heartbeat_seconds
        self.link = StoreLink(
            queue, backoff_base=max(0.05, min(settings.poll_interval_seconds, 1.0)),
            backoff_max=min(30.0, max(1.0, beat * 3)),
        )
        self.launcher = Launcher(preload_modules(settings))
        self.memory = MemoryWatch.for_settings(settings)
        self.jobs: dict[str, RunningJob] = {}
        self.by_pid: dict[int, RunningJob] = {}
        self.by_request: dict[int, RunningJob] = {}
        self.status = ServiceState.RUNNING.value
        self.stop_requested = False
        self.drain_deadline: float | None = None
        self.signals = self.last_signal = self._seen_signals = 0
        self.periodic = service_duties(settings, self.actor, self.worker_id)
        self.wake = WakeSocket()
        self.waiter = Waiter()
        self.outcomes = OutcomeReporter.for_service(self.worker_id, settings, self.options, types)
        self.systemd = SystemdNotifier.from_environment()  # before the template forks: children never see it
        card = ServiceCard(self.worker_id, self.host, self.pid, self.actor, utcnow(), types, self.wake.port)
        self.duties = StoreDuties(self.link, settings, self, card, until_idle=self.options.until_idle,
                                  on_recovered=self.outcomes.recovered, on_ready=self.systemd.ready)

    # -- life cycle -------------------------------------------------------------------------
    def run(self) -> int:
        """Serve until a signal or (with ``until_idle``) an empty queue; the exit code."""
        wake_r = self._install_signals()
        self.launcher.start()
        self.link.start()
        changes = watch_changes(self.link.queue.store, self.wake.port, self.settings.poll_interval_seconds,
                                worker_id=self.worker_id, settings=self.settings)
        log.info("service %s started: %d slot(s), types %s, store %s", self.worker_id, self.settings.workers,
                 ", ".join(self.types) or "(none)", getattr(self.link.queue.store, "display_url", "?"))
        try:
            while not (self.stop_requested and not self.jobs):
                self._wait(wake_r)
                self._step(time.monotonic())
                if not self.link.alive:
                    log.critical("the store thread died; stopping every job and exiting")
                    for rj in self.jobs.values():
                        self._signal(rj, signal.SIGKILL)
                    return EXIT_INTERNAL
            return self._shut_down()
        finally:
            self.launcher.stop()
            if changes is not None:
                changes.stop()
            self.wake.close()
            signal.set_wakeup_fd(-1)
            for sig, handler in self._old_handlers.items():
                signal.signal(sig, handler)
            for fd in self._wake_fds:
                os.close(fd)

    def _install_signals(self) -> int:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)

        def on_signal(signum: int, frame: Any) -> None:
            self.signals += 1
            self.last_signal = signum

        self._old_handlers = {sig: signal.signal(sig, on_signal) for sig in procs.DRAIN_SIGNALS}
        self._wake_fds = (wake_r, wake_w)
        return wake_r

    def _wait(self, wake_r: int) -> None:
        waitables: list[Any] = [wake_r, self.link.fileno(), self.launcher.fileno(), self.wake]
        waitables += [rj.child.conn for rj in self.jobs.values() if rj.child and rj.pipe_open]
        for ready in self.waiter.wait(waitables, self._timeout()):
            if ready is self.wake and self.wake.drain():  # a job was created on this host
                self.duties.woken_up()
            elif ready == wake_r:
                try:
                    os.read(wake_r, 4096)
                except BlockingIOError:
                    pass

    def _timeout(self) -> float:
        now = time.monotonic()
        moments = [now + 1.0, *self.duties.wake_at()]
        if self.jobs:
            moments += [
                rj.deadline for rj in self.jobs.values() if rj.state == AttemptState.RUNNING and rj.child is not None
            ]
            moments += [rj.kill_at for rj in self.jobs.values() if rj.kill_at]
            moments += [
                rj.progress_written + self.settings.progress_interval_seconds
                for rj in self.jobs.values()
                if rj.progress_dirty
            ]
            moments += self.memory.wake_at(self.jobs.values())
        if self.drain_deadline is not None:
            moments.append(self.drain_deadline)
        return max(0.0, min(moments) - now)

    def _step(self, now: float) -> None:
        self.systemd.watchdog(now)  # the main loop turns at least once a second while it is healthy
        self._handle_signals(now)
        for rj in list(self.jobs.values()):
            rj.take_messages()
        serve_promotions(self.jobs.values(), self.duties)
        for event in self.launcher.events():
            if isinstance(event, protocol.Exited):
                self._on_exit(event.pid, event.code, event.last_lines, event.usage)
            elif isinstance(event, TemplateLost):
                self._on_template_lost()
            else:
                self._on_started(event)
        self.duties.take_results()
        self._enforce(time.monotonic())
        now = time.monotonic()
        self.duties.schedule(now)
        if not self.stop_requested:
            self.periodic.tick(now, self.duties.submit, self.duties.inflight)

    def request_stop(self) -> None:
        """Stop once the running jobs are done (``--until-idle`` found nothing left to do)."""
        self.stop_requested = True

    def _shut_down(self) -> int:
        self.status = ServiceState.STOPPED.value
        self.duties.submit(Op("worker:stopped", self.duties.write_worker, durable=True))
        deadline = time.monotonic() + max(1.0, self.settings.drain_seconds)
        signals = self.signals
        # A claim still in flight may yet return a job: it is released (a durable write) below.
        while ((self.link.pending_durable or self.duties.claiming)
               and time.monotonic() < deadline and self.signals == signals):
            time.sleep(0.02)
            self.duties.take_results()
        lost = self.link.stop(timeout=0.5)
        self.outcomes.close()
        self.periodic.close(deadline)
        if lost:
            log.error("stopping with %d write(s) not recorded (store unreachable or refusing them); "
                      "their jobs will be re-queued as stale by a live service", lost)
            return 1
        log.info("service %s stopped", self.worker_id)
        return 0

    # -- signals and drain ------------------------------------------------------------------
    def _handle_signals(self, now: float) -> None:
        if self.signals == self._seen_signals:
            return
        self._seen_signals = self.signals
        if self.status != ServiceState.DRAINING:
            self.stop_requested = True
            self.status = ServiceState.DRAINING.value
            self.drain_deadline = now + self.settings.drain_seconds
            log.info("%s: draining (%d running job(s), up to %.0fs; a second signal stops at once)",
                     procs.signal_words(self.last_signal), len(self.jobs), self.settings.drain_seconds)
            self.systemd.stopping(f"draining {len(self.jobs)} running job(s)")
            self.duties.submit(Op("worker:draining", self.duties.write_worker))
            return
        log.warning("second signal: stopping running jobs now and putting them back to pending")
        for rj in list(self.jobs.values()):
            self.stop_job(rj, "shutdown", grace=0.0)
            if rj.cleanup is not None:
                kill_group(rj.cleanup.pid, signal.SIGKILL)

    def _enforce(self, now: float) -> None:
        for rj in self.memory.over_limit(list(self.jobs.values()), now):  # killed at once: a grace lets it grow on
            log.warning("job %s went over its memory limit; killing its process group", rj.job_id,
                        extra={"job_id": rj.job_id})
            self.stop_job(rj, "memory", grace=0.0)
        for rj in list(self.jobs.values()):
            if rj.state == AttemptState.RUNNING and rj.child is not None and now >= rj.deadline:
                log.warning(
                    "job %s timed out after %.1fs; stopping its process group", rj.job_id, now - rj.started,
                    extra={"job_id": rj.job_id},
                )
                self.stop_job(rj, "timeout")
            if rj.kill_at is not None and now >= rj.kill_at and rj.alive:
                self._signal(rj, signal.SIGKILL)
                rj.kill_at = None
            if rj.cleanup_deadline is not None and now >= rj.cleanup_deadline and rj.cleanup is not None:
                kill_group(rj.cleanup.pid, signal.SIGKILL)
                rj.cleanup_deadline = None
        if self.drain_deadline is not None and now >= self.drain_deadline:
            self.drain_deadline = None
            running = [rj for rj in self.jobs.values() if rj.state == AttemptState.RUNNING]
            if running:
                log.warning("drain time over: stopping %d job(s) and putting them back to pending", len(running))
            for rj in running:
                self.stop_job(rj, "drain")

    def stop_job(self, rj: RunningJob, reason: str, grace: float | None = None) -> None:
        """TERM the job's process group now, KILL it after the grace period."""
        if not rj.alive:
            return
        if rj.state == AttemptState.RUNNING:  # a job already stopping keeps its first reason
            rj.reason = reason
        rj.state = AttemptState.STOPPING
        grace = self.settings.kill_grace_seconds if grace is None else grace
        if grace <= 0:
            self._signal(rj, signal.SIGKILL)
            rj.kill_at = None
        else:
            self._signal(rj, signal.SIGTERM)
            rj.kill_at = time.monotonic() + grace

    def _signal(self, rj: RunningJob, sig: int) -> None:
        """Signal the job's process group, or as soon as its child has started."""
        if rj.child is not None:
            kill_group(rj.child.pid, sig)
        else:
            rj.pending_signal = sig

    # -- children ---------------------------------------------------------------------------
    def start_job(self, job: dict[str, Any], memory_limit_mb: int | None = None) -> None:
        """Run ``job`` (just claimed in this service's name) in a child of the template, its tree held
        to ``memory_limit_mb`` (None: no limit)."""
        request = {
            "kind": "run", "job": job, "settings": self.settings, "log_dir": self.settings.log_dir,
            "worker_id": self.worker_id,
        }
        stall = self.settings.stall_minutes_by_type.get(str(job["job_type"]))
        rj = RunningJob(job=job, started=time.monotonic(), stall_seconds=None if stall is None else stall * 60.0,
                        memory_limit=None if memory_limit_mb is None else memory_limit_mb * 1024 * 1024)
        self.jobs[rj.job_id] = rj
        self.outcomes.started(job)
        self.by_request[self.launcher.request(self.memory.place(rj, request))] = rj

    def _on_started(self, event: Launched | protocol.StartFailed) -> None:
        rj = self.by_request.pop(event.request_id, None)
        if rj is None:
            return
        if isinstance(event, protocol.StartFailed):
            log.error("job %s: could not start a child: %s", rj.job_id, event.text, extra={"job_id": rj.job_id})
            if rj.state == AttemptState.CLEANING:
                self._cleanup_ended(rj)
            else:
                rj.outcome = protocol.Failure(f"could not start a child process: {event.text}")
                self._record(rj, "fail")
            return
        child = event.child
        self.by_pid[child.pid] = rj
        if rj.state == AttemptState.CLEANING:
            rj.cleanup = child
            return
        rj.child = child
        # the time limit counts from the handler's start, not from a fork queued behind the template's start-up
        rj.start_clock(time.monotonic())
        # DEBUG: at hundreds of jobs a second, one INFO line per job (its outcome, below) is enough
        log.debug(
            "job %s (%s) started, attempt %s of %s, pid %s", rj.job_id, rj.job_type, rj.job.get("attempts"),
            rj.job.get("max_attempts"), child.pid, extra={"job_id": rj.job_id, "job_type": rj.job_type},
        )
        if rj.pending_signal is not None:
            kill_group(child.pid, rj.pending_signal)

    def _on_template_lost(self) -> None:  # and its children with it (their starts failed separately)
        for rj in list(self.jobs.values()):
            if rj.child is not None and rj.alive:
                self._handler_ended(rj, None)
            elif rj.state == AttemptState.CLEANING and rj.cleanup is not None:
                self._cleanup_ended(rj)

    def _on_exit(self, pid: int, code: int | None, last_lines: str = "", usage: Usage | None = None) -> None:
        if pid not in self.by_pid:
            return
        rj = self.by_pid.pop(pid)
        if rj.child is not None and rj.child.pid == pid:
            rj.attempt_log, rj.usage = attempt_summary(rj, self.host, code, last_lines), usage
            if last_lines.startswith("[sccli: job log "):  # a planted link or foreign file: refused, say so here too
                log.warning("job %s: %s", rj.job_id, last_lines.split("\n", 1)[0], extra={"job_id": rj.job_id})
        if rj.cleanup is not None and rj.cleanup.pid == pid:
            self._cleanup_ended(rj)
        else:
            self._handler_ended(rj, code)

    def _handler_ended(self, rj: RunningJob, code: int | None) -> None:
        assert rj.child is not None
        rj.take_messages()
        if rj.pipe_open:
            rj.child.conn.close()
            rj.pipe_open = False
        kill_group(rj.child.pid, signal.SIGKILL)  # whatever the handler left behind goes with it
        rj.exit_code, rj.kill_at = code, None
        self.memory.ended(rj)
        if rj.lease_lost:
            log.warning(
                "job %s: lease lost (re-queued elsewhere); its outcome is not recorded, its partial output removed",
                rj.job_id, extra={"job_id": rj.job_id},
            )
            self._start_cleanup(rj)  # removes this attempt's partials only, never the new attempt's
        elif isinstance(rj.outcome, protocol.Result):
            self._record(rj, "complete")
        elif rj.reason in ("drain", "shutdown"):
            self._record(rj, "release")
        elif rj.reason in ("timeout", "cancel", "memory"):
            self._start_cleanup(rj)
        else:
            self._record(rj, "fail")

    def _start_cleanup(self, rj: RunningJob) -> None:
        rj.state = AttemptState.CLEANING
        request = {
            "kind": "cleanup", "job": rj.job, "settings": self.settings, "log_dir": self.settings.log_dir,
            "reason": rj.reason,
        }
        self.by_request[self.launcher.request(request)] = rj
        rj.cleanup_deadline = time.monotonic() + CLEANUP_TIMEOUT

    def _cleanup_ended(self, rj: RunningJob) -> None:
        if rj.cleanup is not None:
            rj.cleanup.conn.close()
            kill_group(rj.cleanup.pid, signal.SIGKILL)
        rj.cleanup_deadline = None
        if rj.lease_lost:
            keep_attempt_log(rj, self.duties)
            self._finish(rj)
            return
        self._record(rj, "cancelled" if rj.reason == "cancel" else "fail")

    # -- recording outcomes -----------------------------------------------------------------
    def _record(self, rj: RunningJob, what: str) -> None:
        """Write the attempt's outcome, with its ``logs`` entry, as one durable write."""
        job_id, actor = rj.job_id, self.actor
        log_entry, rj.attempt_log = rj.attempt_log, None
        elapsed = time.monotonic() - rj.started
        fn, note = outcome_write(rj, what, actor, log_entry, elapsed)
        kind = failure_of(rj, elapsed)[0] if what == "fail" else "none"
        told = AttemptNote(job_id, rj.job_type, what, note, kind, int(rj.job.get("attempts") or 0),
                           rj.job.get("max_attempts"), rj.child.pid if rj.child else "-", elapsed)
        done = lambda result, error: self.outcomes.recorded(told, result, error)  # noqa: E731
        self.duties.submit(Op(f"record:{job_id}", fn, durable=True, done=done))
        self._finish(rj)

    def _finish(self, rj: RunningJob) -> None:
        rj.state = AttemptState.RECORDED
        self.memory.release(rj)
        self.jobs.pop(rj.job_id, None)
        if rj.child is not None:
            self.by_pid.pop(rj.child.pid, None)
        self.duties.claim_soon()
