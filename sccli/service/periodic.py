"""Fleet duties a service does now and then, each a small object with its own period.

A :class:`PeriodicDuty` says how often it runs, does its store work on the store thread (as an
:class:`~sccli.service.storelink.Op` probe: dropped while the store is unreachable, tried again at
its next period) and logs what came of it on the main thread. :class:`PeriodicDuties` is what the
supervisor holds: one ``tick(now, submit)`` per loop turn. The duties are written so any number of
services may run them at once: firing schedules is fenced per fire, retention by a lease.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sccli.service.storelink import Op

log = logging.getLogger("sccli.service")


class PeriodicDuty(Protocol):
    """One periodic duty."""

    name: str
    period: float

    def run(self, queue: Any) -> Any:
        """The store work (store thread); its result goes to :meth:`done`."""

    def done(self, result: Any, error: BaseException | None) -> None:
        """What came of it (main thread)."""


class ScheduleDuty:
    """Fire the due schedules (:class:`~sccli.schedule_firing.ScheduleFirer`)."""

    name = "schedules"
    #: Told of each failed fire (``event, name, reason``): the notify duty, when notify is on.
    on_failure: Callable[[str, str, str], None] | None = None

    def __init__(self, period: float, actor: str, allow_every: bool) -> None:
        self.period, self.actor, self.allow_every = period, actor, allow_every

    def run(self, queue: Any) -> list[Any]:
        from sccli.schedule_firing import ScheduleFirer

        return ScheduleFirer(queue, actor=self.actor, allow_every=self.allow_every).fire_due()

    def done(self, fires: list[Any] | None, error: BaseException | None) -> None:
        if error is not None:
            log.warning("firing schedules failed: %s", error)
        for fire in fires or []:
            if fire.outcome == "failed" and self.on_failure is not None:
                self.on_failure("schedule_failed", fire.name, fire.reason or "failed")
            level = logging.WARNING if fire.outcome == "failed" else logging.INFO
            log.log(
                level,
                "schedule %s fired for %s: %s %s%s",
                fire.name,
                fire.at.isoformat(),
                fire.outcome,
                fire.job_id or "",
                f" ({fire.reason})" if fire.reason else "",
            )


class PeriodicDuties:
    """The duties of one service and when each is next due (monotonic seconds)."""

    def __init__(self, duties: Sequence[PeriodicDuty]) -> None:
        self.duties = list(duties)
        self.next = {d.name: 0.0 for d in self.duties}

    def tick(self, now: float, submit: Callable[[Op], None], inflight: set[str]) -> None:
        """Submit every duty whose period has passed and that is not still running."""
        for duty in self.duties:
            if now >= self.next[duty.name] and duty.name not in inflight:
                self.next[duty.name] = now + duty.period
                submit(Op(duty.name, duty.run, done=self._done(duty)))

    def close(self, deadline: float) -> None:
        """At shutdown: duties with work of their own in flight (the notify sender) finish it."""
        for duty in self.duties:
            close = getattr(duty, "close", None)
            if close is not None:
                close(deadline)

    def _done(self, duty: PeriodicDuty) -> Callable[[Any, BaseException | None], None]:
        def done(result: Any, error: BaseException | None) -> None:
            duty.done(result, error)
            # A duty may shorten its period from its result (a retention under way continues soon).
            self.next[duty.name] = min(self.next[duty.name], time.monotonic() + duty.period)

        return done


def service_duties(settings: Any, actor: str, worker_id: str) -> PeriodicDuties:
    """The periodic duties ``settings`` turn on for a service."""
    schedules = ScheduleDuty(settings.schedule_poll_seconds, actor, settings.schedule_intervals)
    from sccli.service.tally_duty import TallyDuty

    duties: list[PeriodicDuty] = [schedules, TallyDuty()]
    if settings.retention is not None:
        from sccli.service.retention import RetentionDuty

        duties.append(RetentionDuty(settings, actor, worker_id))
    if settings.notify is not None:
        from sccli.service.notify_duty import NotifyDuty

        notify = NotifyDuty(settings, actor, worker_id)
        for duty in duties:  # the failures other duties see become notifications
            duty.on_failure = notify.report  # type: ignore[attr-defined]
        duties.append(notify)
    return PeriodicDuties(duties)
