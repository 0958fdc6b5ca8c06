"""The notify duty (settings ``notify``): find what to notify on the store thread, claim each key's
lease there, and hand what this service won to a sender thread, so a slow or failing webhook never
holds up the supervisor or the store link. See docs/notifications.md."""

from __future__ import annotations

import logging
import queue as queue_mod
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sccli.notify import claims, events
from sccli.notify.webhook import Message, deliver

if TYPE_CHECKING:
    from datetime import datetime

    from sccli.settings import Notify, Settings
    from sccli.store.base import Store

log = logging.getLogger("sccli.service")


class Sender:
    """A daemon thread sending each message to every target (with the settings' retries)."""

    def __init__(self, notify: Notify) -> None:
        self.notify = notify
        self.outbox: queue_mod.Queue[Message] = queue_mod.Queue()
        self.thread: threading.Thread | None = None

    def send(self, message: Message) -> None:
        """Queue ``message``; the thread starts on the first one."""
        if self.thread is None:
            self.thread = threading.Thread(target=self._loop, name="sc-notify", daemon=True)
            self.thread.start()
        self.outbox.put(message)

    def flush(self, deadline: float) -> bool:
        """Wait until every queued message was tried, or ``deadline`` (monotonic) passed; True when all were."""
        while self.outbox.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self.outbox.unfinished_tasks

    def _loop(self) -> None:
        while True:
            message = self.outbox.get()
            try:
                send_all(self.notify, message)
            except Exception:  # a bug in one send must not end the thread
                log.exception("notifying of %s failed", message.key)
            finally:
                self.outbox.task_done()


def send_all(notify: Notify, message: Message) -> list[Any]:
    """Deliver ``message`` to every target, logging each outcome."""
    out = []
    for target in notify.targets:
        result = deliver(target, message, timeout=notify.timeout_seconds, retries=notify.retries,
                         backoff=notify.retry_base_seconds)
        if result.ok:
            log.info("notified %s of %s (%d attempt(s))", target.name, message.key, result.attempts)
        else:
            log.error("notifying %s of %s failed after %d attempt(s): %s", target.name, message.key,
                      result.attempts, result.error)
        out.append(result)
    return out


class NotifyDuty:
    """Each period: the candidates of the enabled events, sent by whoever claims their key."""

    name = "notify"

    def __init__(self, settings: Settings, actor: str, worker_id: str, sender: Sender | None = None) -> None:
        assert settings.notify is not None
        self.settings, self.notify = settings, settings.notify
        self.period = self.notify.period_seconds
        self.holder = f"{worker_id}:{actor}"
        self.sender = sender or Sender(self.notify)
        self.reported: list[events.Candidate] = []
        self.lock = threading.Lock()

    def report(self, event: str, name: str, reason: str) -> None:
        """A failure seen by another duty of this service (main thread): notified at the next run."""
        from sccli.clock import utcnow

        if event in self.notify.events:
            with self.lock:
                self.reported.append(events.duty_failed(event, name, reason, utcnow()))

    def run(self, queue: Any) -> list[Message]:
        """Claim the due candidates (store thread); those won go to :meth:`done`."""
        return notify_step(queue.store, self.settings, self.holder, self._take_reported())

    def done(self, messages: list[Message] | None, error: BaseException | None) -> None:
        if error is not None:
            log.warning("looking for notifications failed: %s", error)
        log.debug("notify step: %d to send", len(messages or []))
        for message in messages or []:
            self.sender.send(message)

    def close(self, deadline: float) -> None:
        """At shutdown: let the sender finish what this service claimed, until ``deadline``."""
        if not self.sender.flush(deadline):
            log.error("stopping with notifications not sent (webhook slow or unreachable)")

    def _take_reported(self) -> list[events.Candidate]:
        with self.lock:
            taken, self.reported = self.reported, []
        return taken


def notify_step(
    store: Store,
    settings: Settings,
    holder: str,
    reported: Sequence[events.Candidate] = (),
    now: datetime | None = None,
) -> list[Message]:
    """The messages this holder won the right to send now."""
    notify = settings.notify
    assert notify is not None
    now = now or store.now()
    cooldown = timedelta(minutes=notify.cooldown_minutes)
    won = []
    for candidate in [*reported, *candidates(store, settings, holder, now, cooldown)]:
        if claims.claim(store, candidate.message.key, holder, now, cooldown, candidate.fields, candidate.due):
            won.append(candidate.message)
    return won


def candidates(
    store: Store, settings: Settings, holder: str, now: datetime, cooldown: timedelta
) -> list[events.Candidate]:
    """Every enabled rule's candidates."""
    assert settings.notify is not None
    wanted, out = settings.notify.events, list[events.Candidate]()
    if "job_failed" in wanted:
        out.extend(events.failed_jobs(store, now, cooldown))
    if "health_critical" in wanted:
        out.extend(_health(store, settings, holder, now))
    if "unserved_type" in wanted:
        out.extend(events.unserved(store, settings, now))
    return out


def _health(store: Store, settings: Settings, holder: str, now: datetime) -> list[events.Candidate]:
    """The health candidate; a recovery is only noted on its key (the next critical is news)."""
    from sccli.monitor.job_monitor import JobMonitor

    health = JobMonitor(store, settings=settings, clock=lambda: now).get_health()
    if health["overall"] == "unknown":
        return []
    if health["overall"] != "critical":
        if claims.key_state(store, events.HEALTH_KEY).get("state") == "critical":
            claims.note(store, events.HEALTH_KEY, holder, now, {"state": health["overall"]})
        return []
    return [events.health_turned_critical(health, now)]
