"""The periodic duties on their own: each with its own period, never two runs of one at once,
a retention under way continuing soon; the schedule and retention duties doing their work."""

from __future__ import annotations

import time
from typing import Any

from sccli.queue import JobQueue
from sccli.schedules import ScheduleSpec, add_schedule
from sccli.service.periodic import PeriodicDuties, ScheduleDuty, service_duties
from sccli.service.retention import BUSY_PERIOD, IDLE_PERIOD, RetentionDuty
from sccli.service.storelink import Op
from sccli.settings import Retention, Settings


class Counting:
    def __init__(self, name: str, period: float) -> None:
        self.name, self.period, self.runs, self.results = name, period, 0, []

    def run(self, queue: Any) -> int:
        self.runs += 1
        return self.runs

    def done(self, result: Any, error: BaseException | None) -> None:
        self.results.append(result)


def test_each_duty_runs_on_its_own_period_and_never_twice_at_once() -> None:
    fast, slow = Counting("fast", 1.0), Counting("slow", 10.0)
    duties = PeriodicDuties([fast, slow])
    submitted: list[Op] = []
    inflight: set[str] = set()

    def submit(op: Op) -> None:
        submitted.append(op)
        inflight.add(op.name)

    duties.tick(100.0, submit, inflight)
    duties.tick(101.5, submit, inflight)  # both still in flight: nothing more
    assert [op.name for op in submitted] == ["fast", "slow"]
    inflight.clear()
    duties.tick(101.5, submit, inflight)
    duties.tick(105.0, submit, inflight)
    assert [op.name for op in submitted] == ["fast", "slow", "fast"]  # fast is in flight again; slow waits for 110
    inflight.clear()
    duties.tick(110.0, submit, inflight)
    assert [op.name for op in submitted][-2:] == ["fast", "slow"]


def test_a_duty_may_shorten_its_next_wait_from_its_result() -> None:
    class Shortening(Counting):
        def done(self, result: Any, error: BaseException | None) -> None:
            self.period = 0.0

    duty = Shortening("x", 3600.0)
    duties = PeriodicDuties([duty])
    ops: list[Op] = []
    duties.tick(time.monotonic(), ops.append, set())
    assert ops[0].done is not None
    ops[0].done(1, None)
    duties.tick(time.monotonic(), ops.append, set())
    assert len(ops) == 2


def test_schedule_duty_fires_due_schedules(store: Any, queue: JobQueue) -> None:
    doc = add_schedule(
        queue, ScheduleSpec(name="s", job_type="data_validation", cron="@every 1s"), actor="t", allow_every=True
    )
    store.schedules.update(doc["schedule_id"], {"next_run_at": store.now().replace(microsecond=0)})
    fires = ScheduleDuty(1.0, "svc", allow_every=True).run(queue)
    assert [f.outcome for f in fires] == ["queued"]


def test_retention_duty_only_when_set_and_busy_period_while_under_way(
    store: Any, queue: JobQueue, tmp_path: Any
) -> None:
    assert [d.name for d in service_duties(Settings(), "a", "w").duties] == ["schedules", "tallies"]
    settings = Settings(retention=Retention(at="00:00"), log_dir=str(tmp_path))
    assert [d.name for d in service_duties(settings, "a", "w").duties] == ["schedules", "tallies", "retention"]
    duty = RetentionDuty(settings, "a", "w")
    result = duty.run(queue)
    assert result is not None and result["done"]
    duty.done(result, None)
    assert duty.period == IDLE_PERIOD and duty.run(queue) is None  # done for today
    duty.done({"done": False, "period": "x", "deleted": {}}, None)
    assert duty.period == BUSY_PERIOD


def test_tally_duty_comes_back_soon_while_days_are_missing(store: Any, queue: JobQueue) -> None:
    from sccli.service.tally_duty import TallyDuty

    duty = TallyDuty()
    assert duty.run(queue) == (0, 0)  # nothing ended yet: nothing to build
    duty.done((3, 5), None)
    assert duty.period == TallyDuty.BUSY_PERIOD
    duty.done((5, 0), None)
    assert duty.period == TallyDuty.IDLE_PERIOD
    duty.done(None, RuntimeError("store down"))  # logged; tried again at its next period
    assert duty.period == TallyDuty.IDLE_PERIOD
