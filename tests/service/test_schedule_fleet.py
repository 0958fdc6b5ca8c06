"""Three real ``sc service run`` processes fire one schedule every second; one is SIGKILLed
mid-run: every fire time is recorded exactly once (no fire lost, none doubled), none early, and
each queued fire made exactly one job (SQLite and the wire server)."""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import pytest

from sccli.schedule_firing import FIRING_LEASE_SECONDS
from sccli.schedules import ScheduleSpec, add_schedule, fire_job_id, fire_log_key, get_schedule, set_paused
from sccli.store.base import JobQuery
from tests.conftest import StoreSpec, make_spec
from tests.service.conftest import make_queue, wait_for, write_settings


@pytest.fixture(params=["sqlite", "wire"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    return make_spec(request.param, tmp_path)


def _fires(store: Any, sid: str) -> list[dict[str, Any]]:
    return sorted(store.find_events(fire_log_key(sid)), key=lambda r: r["fire_at"])


def test_three_services_one_killed_fire_each_time_once(
    spec: StoreSpec, tmp_path: Path, services: Callable[..., Any]
) -> None:
    settings = write_settings(tmp_path, schedule_intervals=True, schedule_poll_seconds=0.05, types=["ok"])
    store = spec.open()
    queue = make_queue(store, settings)
    doc = add_schedule(queue, ScheduleSpec(name="tick", job_type="ok", cron="@every 1s"), actor="t", allow_every=True)
    sid = doc["schedule_id"]
    running = [services(spec, settings) for _ in range(3)]
    wait_for(lambda: len(_fires(store, sid)) >= 3, timeout=60, what="three fires")
    running[0].proc.send_signal(signal.SIGKILL)
    assert running[0].wait(30) == -signal.SIGKILL
    seen = len(_fires(store, sid))
    wait_for(lambda: len(_fires(store, sid)) >= seen + 4, timeout=60, what="four fires after the kill")
    set_paused(store, "tick", True, actor="t")
    # A fire the killed service had taken is finished by another one once its lease passes.
    wait_for(
        lambda: "firing_at" not in get_schedule(store, "tick"),
        timeout=FIRING_LEASE_SECONDS + 30,
        what="no fire left taken",
    )
    for service in running[1:]:
        service.proc.send_signal(signal.SIGTERM)
    for service in running[1:]:
        assert service.wait(30) == 0, service.log()[-2000:]

    fires = _fires(store, sid)
    times = [f["fire_at"] for f in fires]
    assert len(times) == len(set(times)), "a fire time recorded twice"
    assert all(f["at"] >= f["fire_at"] for f in fires), "fired early"
    for earlier, later in zip(fires, fires[1:], strict=False):
        if later["fire_at"] - earlier["fire_at"] != timedelta(seconds=1):
            # Only a fire taken by the killed service and finished after its lease leaves a gap
            # (catch_up latest then fires the latest time once).
            assert earlier["at"] - earlier["fire_at"] >= timedelta(seconds=FIRING_LEASE_SECONDS - 1), (earlier, later)
    assert {f["outcome"] for f in fires} <= {"queued", "skipped"}, fires
    queued = [f for f in fires if f["outcome"] == "queued"]
    jobs = store.find_jobs(JobQuery(dataset_uuid=sid), limit=None)
    assert sorted(j["job_id"] for j in jobs) == sorted(fire_job_id(sid, f["fire_at"]) for f in queued)
    assert all(j.get("schedule_id") == sid for j in jobs)
