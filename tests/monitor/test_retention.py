"""Retention without cron: one service per day (a lease), bounded batches, tallies still true."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sccli.monitor import retention as ret
from sccli.monitor import tally
from sccli.settings import Retention
from sccli.store.base import JobQuery, Store
from tests.monitor.history import NOW, ago, insert, job
from tests.monitor.test_tally_property import counts

POLICY = Retention(completed_days=30, failed_days=60, at="03:15", batch_size=3)
#: 12:00 UTC on NOW's day: today's retention is due.
DUE = NOW


def build(store: Store) -> tuple[list[str], list[str]]:
    gone = insert(
        store,
        *[job(completed_at=ago(days=40)) for _ in range(17)],
        *[job(status="failed", completed_at=ago(days=70), error="x") for _ in range(4)],
        *[job(status="cancelled", completed_at=ago(days=35), duration=None) for _ in range(3)],
    )
    kept = insert(
        store,
        *[job(completed_at=ago(days=10)) for _ in range(3)],
        *[job(status="failed", completed_at=ago(days=40), error="x") for _ in range(2)],
        job(status="pending", created_at=ago(days=100), duration=None),
    )
    for job_id in gone + kept:
        store.insert_event(
            {
                "job_id": job_id,
                "entity": "job",
                "from": None,
                "to": "created",
                "at": ago(days=100),
                "actor": "t",
                "reason": "r",
            }
        )
    tally.status_type_counts(store)  # the day tallies exist before the deletes (they must stay true)
    return gone, kept


def test_nothing_before_the_time_of_day_or_when_off(store: Store) -> None:
    build(store)
    early = NOW.replace(hour=3, minute=14)
    assert ret.retention_step(store, POLICY, holder="a", now=early) is None
    assert store.count_jobs(JobQuery()) == 30


def test_two_services_never_both_run_the_days_retention(store: Store) -> None:
    gone, kept = build(store)
    runs: list[tuple[str, dict[str, Any]]] = []
    clock = DUE
    for _ in range(40):  # the two services take turns, one step each, one second apart
        for holder in ("a", "b"):
            result = ret.retention_step(store, POLICY, holder=holder, now=clock, steps=2)
            if result is not None:
                runs.append((holder, result))
            clock += timedelta(seconds=1)
    assert {h for h, _ in runs} == {"a"}, "only the lease holder works on the day"
    assert [r["done"] for _, r in runs][-1] is True and sum(r["done"] for _, r in runs) == 1
    deleted = sum(r["deleted"].get(s, 0) for _, r in runs for s in ("completed", "failed", "cancelled"))
    assert deleted == len(gone)
    assert all(store.get_job(i) is None for i in gone) and all(store.get_job(i) is not None for i in kept)
    assert ret.last_retention(store)["period"] == DUE.date().isoformat()  # type: ignore[index]
    assert ret.last_retention(store)["deleted"]["completed"] == 17  # type: ignore[index]
    # the next day it runs again, once
    tomorrow = DUE + timedelta(days=1)
    assert ret.retention_step(store, POLICY, holder="b", now=tomorrow) is not None
    assert ret.retention_step(store, POLICY, holder="a", now=tomorrow + timedelta(seconds=1)) is None


def test_a_holder_that_dies_mid_run_is_replaced_after_its_lease(store: Store) -> None:
    gone, _ = build(store)
    first = ret.retention_step(store, POLICY, holder="a", now=DUE, steps=1)
    assert first is not None and not first["done"]  # and then "a" dies
    assert ret.retention_step(store, POLICY, holder="b", now=DUE + timedelta(seconds=ret.LEASE_SECONDS - 1)) is None
    later = DUE + timedelta(seconds=ret.LEASE_SECONDS + 1)
    while (result := ret.retention_step(store, POLICY, holder="b", now=later)) is not None and not result["done"]:
        later += timedelta(seconds=1)
    assert all(store.get_job(i) is None for i in gone)
    assert ret.last_retention(store)["deleted"]["completed"] == 17  # type: ignore[index]


def test_deletes_go_in_batches_of_bounded_size_and_tallies_equal_a_recount(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone, _ = build(store)
    sizes: list[int] = []
    real = store.delete_jobs

    def recording(query: JobQuery) -> int:
        sizes.append(len(query.job_ids or ()))
        return real(query)

    monkeypatch.setattr(store, "delete_jobs", recording)
    clock = DUE
    while (result := ret.retention_step(store, POLICY, holder="a", now=clock, steps=1)) is not None and not result[
        "done"
    ]:
        clock += timedelta(seconds=1)
    assert sum(sizes) == len(gone) and max(sizes) <= POLICY.batch_size and len(sizes) >= len(gone) // POLICY.batch_size
    assert counts(tally.status_type_counts(store)) == counts(store.stats.job_status_type_counts())
    cutoffs = ret.retention_cutoffs(DUE, POLICY)
    expected = {s: store.count_jobs(JobQuery(status=[s], completed_before=c)) for s, c in cutoffs.items()}
    assert tally.ended_before(store, cutoffs) == expected == {"completed": 0, "failed": 0, "cancelled": 0}
    events = store.find_events(ret.EVENT_KEY)
    assert events and events[-1]["done"] is True


def test_doctor_warns_when_retention_is_off_and_jobs_are_older_than_90_days(store: Store, tmp_path: Any) -> None:
    from sccli.doctor import WARN, _retention_check
    from sccli.settings import Settings

    insert(store, job(completed_at=store.now() - timedelta(days=100)))
    assert _retention_check(store, Settings()).level == WARN
    assert _retention_check(store, Settings(retention=POLICY)).level == "ok"


def test_doctor_is_quiet_when_every_job_is_recent(store: Store) -> None:
    from sccli.doctor import OK, _retention_check
    from sccli.settings import Settings

    insert(store, job(completed_at=store.now() - timedelta(days=10)))
    assert _retention_check(store, Settings()).level == OK


def test_the_overview_shows_retention_as_a_line(store: Store) -> None:
    from sccli.cli.monitor_view import health_line
    from sccli.monitor import JobMonitor
    from sccli.settings import Settings

    build(store)
    assert "Retention: off" in health_line(JobMonitor(store).get_queue_overview())
    clock = DUE
    while (result := ret.retention_step(store, POLICY, holder="a", now=clock)) is not None and not result["done"]:
        clock += timedelta(seconds=1)
    line = health_line(JobMonitor(store, settings=Settings(retention=POLICY)).get_queue_overview())
    assert "Retention: daily at 03:15; last run 2026-03-10 deleted completed 17, failed 4, cancelled 3" in line


def test_log_files_of_deleted_jobs_go_with_them(store: Store, tmp_path: Any) -> None:
    from sccli.monitor.log_files import log_name

    gone, kept = build(store)
    logs = tmp_path / "logs"
    logs.mkdir()
    for job_id in gone[:3] + kept[:1]:
        (logs / log_name(job_id)).write_text("log")
    clock = DUE
    while (
        result := ret.retention_step(store, POLICY, holder="a", now=clock, log_dir=str(logs))
    ) is not None and not result["done"]:
        clock += timedelta(seconds=1)
    assert sorted(p.name for p in logs.iterdir()) == [log_name(kept[0])]
