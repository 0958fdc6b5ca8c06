"""Firing due schedules: exactly one job per schedule and fire time, whatever the number of services.

Any service may fire any schedule. A fire is three writes:

1. **take** it: a conditional write on ``next_run_at`` (expect the due time T) that sets
   ``firing_at`` (the fire time) and moves ``next_run_at`` to now + :data:`FIRING_LEASE_SECONDS`.
   Of several services reading the same T, exactly one wins; the others do nothing.
2. **create** the job through :meth:`~sccli.queue.JobQueue.create_job`, with the id derived from
   ``(schedule_id, fire time)`` (:func:`~sccli.schedules.fire_job_id`), unless it exists already.
3. **record** it: a conditional write (expect the taken ``next_run_at`` and ``firing_at``) that
   sets the next fire time, ``last_run_at``, ``last_job_id``, ``last_outcome``; and a fire record
   in ``job_events`` (under ``schedule:<id>``).

A service killed between 1 and 3 leaves ``firing_at`` set: once the lease passes, the schedule is
due again and the next service finishes that same fire (same job id: the job is not created twice).

After downtime, ``catch_up="latest"`` fires once, for the latest missed fire time; ``"none"`` fires
a fire time only within :data:`MISFIRE_GRACE_SECONDS` of it and skips older ones. A fire that meets
an active job of the dataset and type is recorded as ``skipped``; one whose dataset was deleted (or
whose type is no longer known) as ``failed`` with the reason; the schedule goes on either way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sccli import cron
from sccli.errors import Conflict, InvalidInput, NotFound
from sccli.schedules import fire_job_id, fire_log_key, get_schedule, timing, whole_second

if TYPE_CHECKING:
    from sccli.queue import JobQueue

#: How long a taken fire may stay unrecorded before another service finishes it.
FIRING_LEASE_SECONDS = 30.0
#: With catch_up "none", a fire time this much in the past is missed, not fired.
MISFIRE_GRACE_SECONDS = 60.0


@dataclass(frozen=True)
class Fire:
    """One fire's outcome: ``queued`` (job created), ``skipped`` (an active job of the dataset
    and type exists), ``failed`` (with the reason) or ``missed`` (catch_up none, too late)."""

    schedule_id: str
    name: str
    at: datetime
    outcome: str
    job_id: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (for ``--json`` and the API)."""
        return asdict(self)


class ScheduleFirer:
    """Fires the due schedules of one store; one per service, any number per store."""

    def __init__(
        self,
        queue: JobQueue,
        *,
        actor: str,
        allow_every: bool = False,
        limit: int = 100,
        grace_seconds: float = MISFIRE_GRACE_SECONDS,
        lease_seconds: float = FIRING_LEASE_SECONDS,
    ) -> None:
        self.queue, self.store, self.actor = queue, queue.store, actor
        self.allow_every, self.limit = allow_every, limit
        self.grace, self.lease = timedelta(seconds=grace_seconds), timedelta(seconds=lease_seconds)

    def fire_due(self, now: datetime | None = None) -> list[Fire]:
        """Fire every schedule due at ``now`` (default: the store's clock) that no other service
        fires first; returns the fires this call made."""
        now = now or self.store.now()
        fires = []
        for doc in self.store.schedules.due(now, self.limit):
            fire = self.fire(doc, now)
            if fire is not None:
                fires.append(fire)
        return fires

    def run_now(self, name: str, now: datetime | None = None) -> Fire:
        """Fire a schedule at once, outside its timetable (its next fire time is unchanged)."""
        doc = get_schedule(self.store, name)
        at = whole_second(now or self.store.now())
        fire = self._create(doc, at, manual=True)
        self.store.schedules.update(doc["schedule_id"], self._last(fire, at))
        self._log(fire, at)
        return fire

    def fire(self, doc: dict[str, Any], now: datetime) -> Fire | None:
        """Fire one schedule as read when due (``doc`` may be stale: the take is fenced on its
        ``next_run_at``); None when another service fired it first."""
        sid, due = doc["schedule_id"], doc["next_run_at"]
        try:
            parsed, tz = timing(doc, self.allow_every)
        except InvalidInput:  # written by hand or by a newer version: leave it for `sc schedule show`
            return None
        at = doc.get("firing_at") or cron.latest_due(parsed, due, now, tz)
        if not doc.get("firing_at") and doc.get("catch_up") == "none" and now - at > self.grace:
            fire = Fire(
                sid, doc["name"], at, "missed", reason=f"more than {self.grace.total_seconds():g}s late (catch_up none)"
            )
            return self._record(doc, due, at, fire, parsed, tz, now, taken=False)
        hold = whole_second(now + self.lease)
        # Fenced on both fields: a finished recovery can leave next_run_at equal to the old lease
        # value (the next fire time may fall on it), and a stale read must not take that fire again.
        fence = {"next_run_at": due, "firing_at": doc.get("firing_at")}
        if not self.store.schedules.update(sid, {"next_run_at": hold, "firing_at": at}, expect=fence):
            return None  # another service took this fire
        return self._record(doc, hold, at, self._create(doc, at), parsed, tz, now, taken=True)

    def _record(
        self,
        doc: dict[str, Any],
        expected: datetime,
        at: datetime,
        fire: Fire,
        parsed: cron.Cron,
        tz: Any,
        now: datetime,
        *,
        taken: bool,
    ) -> Fire | None:
        fields = {"next_run_at": cron.next_after(parsed, at, tz), "updated_at": now}
        if fire.outcome != "missed":
            fields.update(self._last(fire, at))
        expect: dict[str, Any] = {"next_run_at": expected, "firing_at": at if taken else None}
        if not self.store.schedules.update(doc["schedule_id"], fields, expect=expect, unset=["firing_at"]):
            return None if not taken else fire  # taken over after our lease ran out: it records the same fire
        self._log(fire, now)
        return fire

    def _create(self, doc: dict[str, Any], at: datetime, manual: bool = False) -> Fire:
        sid, name = doc["schedule_id"], doc["name"]
        job_id = fire_job_id(sid, at) if not manual else fire_job_id(sid + ":run-now", at)
        if self.store.get_job(job_id) is not None:
            return Fire(sid, name, at, "queued", job_id, "created by an earlier, interrupted fire")
        dataset = doc.get("dataset_uuid")
        try:
            self.queue.create_job(
                dataset or sid,
                doc["job_type"],
                doc.get("parameters") or {},
                doc.get("priority"),
                allow_missing_dataset=dataset is None,
                created_by=f"schedule:{name}",
                actor=self.actor,
                job_id=job_id,
                schedule_id=sid,
            )
        except NotFound:
            return Fire(sid, name, at, "failed", None, f"dataset {dataset} no longer exists")
        except Conflict:
            if self.store.get_job(job_id) is not None:  # created meanwhile by a service that took over
                return Fire(sid, name, at, "queued", job_id)
            return Fire(sid, name, at, "skipped", None, f"an active {doc['job_type']} job of the dataset exists")
        except InvalidInput as exc:
            return Fire(sid, name, at, "failed", None, str(exc))
        return Fire(sid, name, at, "queued", job_id)

    @staticmethod
    def _last(fire: Fire, at: datetime) -> dict[str, Any]:
        return {
            "last_run_at": at,
            "last_job_id": fire.job_id,
            "last_outcome": {"outcome": fire.outcome, "reason": fire.reason, "at": at},
        }

    def _log(self, fire: Fire, now: datetime) -> None:
        self.store.insert_event(
            {
                "entity": "schedule",
                "job_id": fire_log_key(fire.schedule_id),
                "schedule_id": fire.schedule_id,
                "event": "fire",
                "fire_at": fire.at,
                "outcome": fire.outcome,
                "fired_job_id": fire.job_id,
                "reason": fire.reason,
                "at": now,
                "actor": self.actor,
            }
        )
