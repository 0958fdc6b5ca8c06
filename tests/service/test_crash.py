"""A service killed with SIGKILL at each point between a job's write and its follow-ups, then a
second service: no chained job lost, no dataset stuck, no event missing (SQLite and the wire
server; mongomock lives in one process and cannot be shared with a service)."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.conftest import StoreSpec, add_dataset, make_spec
from tests.service.chain_plugins import CHAIN_HANDLERS
from tests.service.conftest import make_queue, service_env, wait_for, write_settings
from tests.service.consistency import chain_report, job_history_problems

#: Chains per chaos run: 300 on SQLite; the wire server scans a collection per query, so 50 there.
CHAINS = {"sqlite": 300, "wire": 50}
CRASH_POINTS = [
    "after_job_write:running",
    "after_event:running",
    "after_dataset:running",
    "after_job_write:completed",
    "after_event:completed",
    "after_dataset:completed",
    "after_child_insert:completed",
    "after_child:completed",
    "after_job_write:pending",
]


@pytest.fixture(params=["sqlite", "wire"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    return make_spec(request.param, tmp_path)


def _clean(report: dict[str, Any]) -> None:
    assert report["missing_children"] == [] and report["twins"] == [], report
    assert report["stuck"] == [], report
    assert report["event_problems"] == [], report
    assert report["outboxes"] == [], report


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_kill_between_a_write_and_its_followups_loses_nothing(
    point: str, spec: StoreSpec, tmp_path: Path, services: Callable[..., Any]
) -> None:
    store = spec.open()
    queue = make_queue(store)
    datasets = [add_dataset(store) for _ in range(2)]
    for ds in datasets:
        queue.create_job(ds, "file_upload", max_attempts=3)
    settings = write_settings(tmp_path, handlers=CHAIN_HANDLERS, workers=1)
    if point.endswith(":pending"):  # the first attempt fails, so its retry (→ pending) is what crashes
        settings = write_settings(
            tmp_path, handlers={**CHAIN_HANDLERS, "file_upload": "tests.service.plugins:fail"}, workers=1
        )
    crashing = services(spec, settings, env=service_env(SC_TEST_CRASH_AT=point))
    assert crashing.wait(30) == -signal.SIGKILL, crashing.log()[-2000:]
    healthy = write_settings(tmp_path, handlers=CHAIN_HANDLERS, workers=2)
    finisher = services(spec, healthy, "--until-idle")
    assert finisher.wait(60) == 0, finisher.log()[-3000:]
    report = chain_report(store, datasets)
    assert report["jobs"] == 3 * len(datasets), report
    _clean(report)


def test_kill_before_a_deferred_pull_writes_no_event_twice(spec: StoreSpec, tmp_path: Path,
                                                            services: Callable[..., Any]) -> None:
    """A job that moves no dataset: its completion's batch (its event, written) waits for the
    service's next heartbeat to be pulled. Killed before that, a sweeper replays it: the jobs end
    completed with each event once and no outbox left."""
    if spec.kind == "sqlite":
        pytest.skip("follow-ups are written in the transition's transaction: no outbox")
    store = spec.open()
    queue = make_queue(store)
    jobs = [queue.create_job(add_dataset(store), "ok") for _ in range(2)]
    settings = write_settings(tmp_path, workers=1)
    crashing = services(spec, settings, env=service_env(SC_TEST_CRASH_AT="after_ack_deferred:completed"))
    assert crashing.wait(30) == -signal.SIGKILL, crashing.log()[-2000:]
    finisher = services(spec, write_settings(tmp_path, workers=1), "--until-idle")
    assert finisher.wait(60) == 0, finisher.log()[-3000:]
    for job_id in jobs:
        job = queue.require_job(job_id)
        assert job["status"] == "completed" and job.get("outbox") == [], job
        assert job_history_problems(store, job) == []
        reasons = [e["reason"] for e in store.find_events(job_id) if e.get("entity", "job") == "job"]
        assert len(reasons) == len(set(reasons)) == 3, reasons


@pytest.mark.slow
def test_chaos_kills_lose_no_chain(spec: StoreSpec, tmp_path: Path, services: Callable[..., Any]) -> None:
    """2 services × 2 workers over 300 upload → extraction → conversion chains, a SIGKILL every
    few seconds, restarted each time: every chain ends done, with every event."""
    store = spec.open()
    queue = make_queue(store)
    chains = CHAINS[spec.kind]
    datasets = [add_dataset(store) for _ in range(chains)]
    for ds in datasets:
        queue.create_job(ds, "file_upload", max_attempts=10)
    # A live service's heartbeat must not look stale on a loaded machine: only killed ones are.
    settings = write_settings(
        tmp_path, handlers=CHAIN_HANDLERS, workers=2, heartbeat_seconds=0.4, stale_after_seconds=4.0
    )
    running = [services(spec, settings), services(spec, settings)]
    rng = random.Random(7)
    kills = 0
    deadline = time.monotonic() + 60
    # A kill after every ~1/12 of the work (or 1.5-3 s, whichever comes first): 8 kills land while
    # chains run on a quiet machine (where 50 chains take 2 s) as on a loaded one.
    step = max(1, 3 * chains // 12)
    while time.monotonic() < deadline and kills < 8:
        _wait_for_progress(store, datasets, (kills + 1) * step, time.monotonic() + rng.uniform(1.5, 3.0))
        victim = rng.randrange(2)
        running[victim].proc.send_signal(signal.SIGKILL)
        running[victim].proc.wait()
        kills += 1
        running[victim] = services(spec, settings)
        if _all_done(store, datasets):
            break
    try:
        wait_for(lambda: _all_done(store, datasets), timeout=150, what="every chain done after the kills")
    except AssertionError:
        from collections import Counter

        from sccli.store.base import JobQuery

        jobs = store.find_jobs(JobQuery(dataset_uuids=datasets), limit=None)
        summary = Counter((j["job_type"], j["status"], bool(j.get("outbox"))) for j in jobs)
        statuses = Counter((store.get_dataset(d) or {}).get("status") for d in datasets)
        failed = [(j["job_type"], j.get("errors")) for j in jobs if j["status"] == "failed"][:3]
        raise AssertionError(
            f"chains not done: jobs {dict(summary)}, datasets {dict(statuses)}, failed {failed}"
        ) from None
    for service in running:
        service.proc.send_signal(signal.SIGTERM)
        service.wait(30)
    report = chain_report(store, datasets)
    assert kills >= 3, "the run ended before enough kills"
    assert report["jobs"] == 3 * chains, report
    _clean(report)


def _wait_for_progress(store: Any, datasets: list[str], finished: int, until: float) -> None:
    """Until ``finished`` jobs of the chains have ended, or the monotonic clock reaches ``until``."""
    from sccli.store.base import JobQuery

    query = JobQuery(status=["completed", "failed", "cancelled"], dataset_uuids=datasets)
    while time.monotonic() < until and store.count_jobs(query) < finished:
        time.sleep(0.02)


def _all_done(store: Any, datasets: list[str]) -> bool:
    from sccli.store.base import JobQuery

    return store.count_jobs(JobQuery(status=["pending", "running"], dataset_uuids=datasets)) == 0 and not any(
        (store.get_dataset(d) or {}).get("status") != "done" for d in datasets[::25]
    ) and chain_report(store, datasets[::50])["missing_children"] == []
