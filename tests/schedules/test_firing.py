"""Firing on every backend: skipped when an active job exists, failed (and going on) when the
dataset was deleted, missed with catch_up none, a dead firer's fire finished once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sccli.queue import JobQueue
from sccli.schedule_firing import FIRING_LEASE_SECONDS, ScheduleFirer
from sccli.schedules import ScheduleSpec, add_schedule, fire_job_id, get_schedule
from sccli.store.base import JobQuery, Store
from tests.backdoor import backdoor
from tests.conftest import add_dataset


def _add(queue: JobQueue, **fields: Any) -> dict[str, Any]:
    spec = ScheduleSpec(**{"name": "s", "job_type": "google_sync", "cron": "*/10 * * * *", **fields})
    return add_schedule(queue, spec, actor="t")


def _delete_dataset(store: Any, uuid: str) -> None:
    backdoor(store).delete_dataset(uuid)  # no contract call deletes a portal dataset (the portal does)


def test_a_deleted_dataset_fails_the_fire_with_a_reason_and_the_schedule_goes_on(store: Store, queue: JobQueue) -> None:
    ds = add_dataset(store)
    doc = _add(queue, dataset_uuid=ds)
    _delete_dataset(store, ds)
    firer = ScheduleFirer(queue, actor="svc")
    first = doc["next_run_at"]
    fires = firer.fire_due(first + timedelta(seconds=1))
    assert [(f.outcome, f.job_id) for f in fires] == [("failed", None)] and ds in (fires[0].reason or "")
    after = get_schedule(store, "s")
    assert after["next_run_at"] == first + timedelta(minutes=10) and after["last_outcome"]["outcome"] == "failed"
    assert "firing_at" not in after
    again = firer.fire_due(first + timedelta(minutes=10, seconds=1))
    assert [f.outcome for f in again] == ["failed"]
    assert store.count_jobs(JobQuery()) == 0


def test_a_fire_meeting_an_active_job_is_skipped_not_queued_twice(store: Store, queue: JobQueue) -> None:
    ds = add_dataset(store)
    doc = _add(queue, dataset_uuid=ds)
    queue.create_job(ds, "google_sync")
    fires = ScheduleFirer(queue, actor="svc").fire_due(doc["next_run_at"])
    assert [f.outcome for f in fires] == ["skipped"]
    assert store.count_jobs(JobQuery(dataset_uuid=ds)) == 1
    assert get_schedule(store, "s")["next_run_at"] == doc["next_run_at"] + timedelta(minutes=10)


def test_catch_up_latest_fires_once_after_downtime_and_none_skips(store: Store, queue: JobQueue) -> None:
    latest = _add(queue, name="latest", job_type="data_validation")
    none = _add(queue, name="none", job_type="data_validation", catch_up="none")
    later = latest["next_run_at"] + timedelta(hours=5, minutes=3)
    fires = {f.name: f for f in ScheduleFirer(queue, actor="svc").fire_due(later)}
    assert fires["latest"].outcome == "queued" and fires["latest"].at == latest["next_run_at"] + timedelta(hours=5)
    assert fires["none"].outcome == "missed" and fires["none"].job_id is None
    assert get_schedule(store, "none")["next_run_at"] == none["next_run_at"] + timedelta(hours=5, minutes=10)
    assert store.count_jobs(JobQuery(job_type=["data_validation"])) == 1


def test_a_fire_taken_by_a_dead_service_is_finished_once_after_its_lease(store: Store, queue: JobQueue) -> None:
    doc = _add(queue, job_type="data_validation")
    due = doc["next_run_at"]
    sid = doc["schedule_id"]
    hold = due + timedelta(seconds=FIRING_LEASE_SECONDS)
    assert store.schedules.update(
        sid, {"next_run_at": hold, "firing_at": due}, expect={"next_run_at": due}
    )  # then it died
    firer = ScheduleFirer(queue, actor="svc")
    assert firer.fire_due(hold - timedelta(seconds=1)) == []  # the lease still holds
    fires = firer.fire_due(hold)
    assert [(f.outcome, f.at, f.job_id) for f in fires] == [("queued", due, fire_job_id(sid, due))]
    assert firer.fire_due(hold) == [] and store.count_jobs(JobQuery()) == 1
    assert get_schedule(store, "s")["next_run_at"] == due + timedelta(minutes=10)


def _poll_through(store: Store, queue: JobQueue, name: str, start: Any, hours: int) -> list[Any]:
    from sccli import cron

    doc = get_schedule(store, name)
    parsed, tz = cron.parse(doc["cron"]), cron.timezone(doc["timezone"])
    store.schedules.update(doc["schedule_id"], {"next_run_at": cron.next_after(parsed, start, tz)})
    firer, fired = ScheduleFirer(queue, actor="svc"), []
    for minute in range(0, hours * 60, 5):  # a service polling every 5 minutes through the night
        fired += [f.at for f in firer.fire_due(start + timedelta(minutes=minute))]
        for job in store.find_jobs(JobQuery(status=["pending"]), limit=None):
            queue.cancel(job["job_id"])
    return fired


def test_0230_in_rome_fires_once_on_the_spring_forward_and_the_fall_back_nights(store: Store, queue: JobQueue) -> None:
    from datetime import UTC, datetime

    _add(queue, name="s", job_type="data_validation", cron="30 2 * * *", timezone="Europe/Rome")
    spring = _poll_through(store, queue, "s", datetime(2026, 3, 28, 22, 0, tzinfo=UTC), 6)
    assert spring == [datetime(2026, 3, 29, 1, 30, tzinfo=UTC)]  # 03:30 CEST: the clock jumped over 02:30
    autumn = _poll_through(store, queue, "s", datetime(2026, 10, 24, 21, 0, tzinfo=UTC), 6)
    assert autumn == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC)]  # the first 02:30 (CEST), not the second (CET)


def test_a_stale_read_does_not_take_a_fire_again_when_next_run_at_comes_back(store: Store, queue: JobQueue) -> None:
    # Found by the property test: a recovered fire's next fire time fell on the old lease value,
    # so a fence on next_run_at alone let a stale read take the same fire time a second time.
    doc = _add(queue, job_type="data_validation")
    sid, due = doc["schedule_id"], doc["next_run_at"]
    hold = due + timedelta(seconds=FIRING_LEASE_SECONDS)
    store.schedules.update(sid, {"next_run_at": hold, "firing_at": due})
    stale = get_schedule(store, "s")  # read by a second service before the first one writes
    firer = ScheduleFirer(queue, actor="svc")
    assert [f.at for f in firer.fire_due(hold)] == [due]
    store.schedules.update(sid, {"next_run_at": hold})  # the next fire time happens to be the old lease value
    assert firer.fire(stale, hold) is None
    assert len(store.find_events(f"schedule:{sid}")) == 1
