"""Property: any number of services firing one store's schedules under a fake clock that jumps
at random fire every schedule exactly once per due fire time (or as catch_up says after
downtime), never early, never twice; on SQLite, mongomock and the wire server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sccli import cron
from sccli.queue import JobQueue
from sccli.schedule_firing import FIRING_LEASE_SECONDS, MISFIRE_GRACE_SECONDS, Fire, ScheduleFirer
from sccli.schedules import ScheduleSpec, add_schedule, fire_job_id, fire_log_key
from sccli.store import open_store
from sccli.store.base import JobQuery, Store
from tests.conftest import BACKENDS, make_spec

#: Around the spring-forward night in Rome; crons that meet the missing hour.
START = datetime(2026, 3, 28, 22, 50, tzinfo=UTC)
SCHEDULES = [
    ("quarter", "*/15 * * * *", "latest"),
    ("night", "30 2 * * *", "latest"),
    ("hourly", "0 * * * *", "none"),
    ("fast", "@every 40s", "latest"),
]
ADVANCE = st.sampled_from([0, 1, 20, 29, 31, 59, 61, 600, 899, 3600, 3 * 3600, 86400 + 7])
#: A step: which services poll at once (each reads the due schedules before any of them writes),
#: how far the clock jumps first, and whether the first of them dies after taking its fires.
STEPS = st.lists(
    st.tuples(st.lists(st.integers(0, 2), min_size=1, max_size=3, unique=True), ADVANCE, st.booleans()),
    min_size=1,
    max_size=18,
)
LEASE = timedelta(seconds=FIRING_LEASE_SECONDS)


class Died(Exception):
    """A service killed between taking a fire and creating its job."""


class DyingFirer(ScheduleFirer):
    def _create(self, doc: dict[str, Any], at: datetime, manual: bool = False) -> Fire:
        raise Died


def expected(
    polls: list[tuple[datetime, bool]], expr: str, catch_up: str, created: datetime
) -> list[tuple[datetime, str]]:
    """The model: at each poll, a due schedule fires its latest due fire time (catch_up none:
    only within the grace, else it is missed); the next fire time follows the one fired. A fire
    taken by a service that died is finished, same fire time, once its lease has passed."""
    c, tz = cron.parse(expr, allow_every=True), cron.timezone("Europe/Rome")
    nxt, out, firing = cron.next_after(c, created, tz), [], None
    for t, dies in polls:
        if nxt > t:
            continue
        if firing is None:
            latest = cron.latest_due(c, nxt, t, tz)
            if catch_up == "none" and (t - latest).total_seconds() > MISFIRE_GRACE_SECONDS:
                out.append((latest, "missed"))
                nxt = cron.next_after(c, latest, tz)
                continue
            firing = latest
        if dies:
            nxt = t + LEASE
            continue
        out.append((firing, "fired"))
        nxt, firing = cron.next_after(c, firing, tz), None
    return out


def run(stores: list[Store], steps: list[tuple[list[int], int, bool]]) -> None:
    queues = [JobQueue(s, actor=f"svc{i}") for i, s in enumerate(stores)]
    firers = [ScheduleFirer(q, actor=f"svc{i}", allow_every=True) for i, q in enumerate(queues)]
    dying = [DyingFirer(q, actor=f"svc{i}", allow_every=True) for i, q in enumerate(queues)]
    main = queues[0]
    docs = [
        add_schedule(
            main,
            ScheduleSpec(name=n, job_type="data_validation", cron=c, timezone="Europe/Rome", catch_up=k),
            actor="t",
            allow_every=True,
        )
        for n, c, k in SCHEDULES
    ]
    for doc in docs:  # the same start for every schedule, whatever the real clock says
        parsed, tz = _timing(doc)
        first = cron.next_after(parsed, START, tz)
        stores[0].schedules.update(doc["schedule_id"], {"next_run_at": first})
    clock, polls = START, []
    for who, advance, dies in steps:
        clock += timedelta(seconds=advance)
        polls.append((clock, dies))
        seen = [(i, stores[i].schedules.due(clock)) for i in who]  # all read before any writes
        for n, (i, docs_due) in enumerate(seen):
            firer = dying[i] if dies and n == 0 else firers[i]
            for doc in docs_due:
                try:
                    fire = firer.fire(doc, clock)
                except Died:
                    continue
                assert fire is None or fire.at <= clock, "fired early"
        for job in stores[0].find_jobs(JobQuery(status=["pending"]), limit=None):  # let the next fire queue a job
            main.cancel(job["job_id"])
    for doc, (_, expr, catch_up) in zip(docs, SCHEDULES, strict=True):
        records = stores[0].find_events(fire_log_key(doc["schedule_id"]))
        got = [(r["fire_at"], "missed" if r["outcome"] == "missed" else "fired") for r in records]
        assert sorted(got) == expected(polls, expr, catch_up, START), doc["name"]
        queued = [r for r in records if r["outcome"] == "queued"]
        assert all(r["outcome"] in ("queued", "missed") for r in records), records
        assert all(r["at"] >= r["fire_at"] for r in records)
        jobs = stores[0].find_jobs(JobQuery(dataset_uuid=doc["schedule_id"]), limit=None)
        assert sorted(j["job_id"] for j in jobs) == sorted(
            fire_job_id(doc["schedule_id"], r["fire_at"]) for r in queued
        )


def _timing(doc: dict[str, Any]) -> tuple[Any, Any]:
    return cron.parse(doc["cron"], allow_every=True), cron.timezone(doc["timezone"])


@pytest.mark.parametrize("kind", BACKENDS)
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(steps=STEPS)
def test_every_due_fire_time_fires_once_never_early(
    kind: str, steps: list[tuple[list[int], int, bool]], tmp_path: Path
) -> None:
    spec = make_spec(kind, tmp_path / uuid.uuid4().hex)
    stores = [open_store(spec.url, spec.db_name) for _ in range(3)]
    try:
        run(stores, steps)
    finally:
        if kind == "wire":
            stores[0].client.drop_database(spec.db_name)  # type: ignore[attr-defined]
        for s in stores:
            s.close()
