"""A job created on this host wakes idle services at once; a woken service still honours pauses
and priorities, and a lost wake-up is covered by the poll."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from sccli.pause import pause_types
from sccli.store.base import JobQuery
from tests.conftest import StoreSpec, add_dataset
from tests.service.conftest import make_queue, wait_for, write_settings

#: Far longer than any wait below: a job picked up in time was woken, not polled.
LONG_POLL = {"poll_interval_seconds": 30.0, "heartbeat_seconds": 0.2, "stale_after_seconds": 5.0}


def _listening(store: Any) -> bool:
    return any(w.get("wake_port") and w.get("status") == "running" for w in store.list_workers())


def test_a_new_job_wakes_an_idle_service(sqlite_spec: StoreSpec, tmp_path: Path, services: Callable[..., Any]) -> None:
    store = sqlite_spec.open()
    queue = make_queue(store)
    services(sqlite_spec, write_settings(tmp_path, **LONG_POLL))
    wait_for(lambda: _listening(store), what="the service's wake port")
    first = queue.create_job(add_dataset(store), "ok")
    wait_for(lambda: queue.require_job(first)["status"] == "completed", timeout=10, what="a woken claim")
    second = queue.create_job(add_dataset(store), "ok")  # idle again: woken again
    wait_for(lambda: queue.require_job(second)["status"] == "completed", timeout=10, what="a second woken claim")


def test_a_woken_service_honours_pauses_and_priority(sqlite_spec: StoreSpec, tmp_path: Path, services: Callable[..., Any]) -> None:
    from sccli.pause import resume_types

    store = sqlite_spec.open()
    queue = make_queue(store)
    services(sqlite_spec, write_settings(tmp_path, workers=1, **LONG_POLL))
    wait_for(lambda: _listening(store), what="the service's wake port")
    pause_types(store, None, "maintenance", "cli:test@host")  # everything: these wake-ups claim nothing
    low = queue.create_job(add_dataset(store), "ok", priority=3)
    high = queue.create_job(add_dataset(store), "ok", priority=1)
    still = queue.create_job(add_dataset(store), "slow_ok", {"seconds": 0.1})
    assert [queue.require_job(j)["status"] for j in (low, high, still)] == ["pending"] * 3
    resume_types(store, None, "cli:test@host")
    pause_types(store, ["slow_ok"], "maintenance", "cli:test@host")
    trigger = queue.create_job(add_dataset(store), "ok", priority=2)  # its wake-up claims in priority order
    jobs = wait_for(lambda: all(queue.require_job(j)["status"] == "completed" for j in (low, high, trigger)) and [queue.require_job(j) for j in (low, high, trigger)],
                    timeout=10, what="woken claims")
    started = {j["job_id"]: j["started_at"] for j in jobs}
    assert started[high] <= started[trigger] <= started[low]
    assert queue.require_job(still)["status"] == "pending"


def test_a_lost_wake_up_is_covered_by_the_poll(sqlite_spec: StoreSpec, tmp_path: Path, services: Callable[..., Any], monkeypatch: Any) -> None:
    store = sqlite_spec.open()
    queue = make_queue(store)
    monkeypatch.setattr(queue, "_wake_services", lambda: None)  # the datagram never arrives
    services(sqlite_spec, write_settings(tmp_path, poll_interval_seconds=0.3))
    wait_for(lambda: _listening(store), what="the service's wake port")
    job_id = queue.create_job(add_dataset(store), "ok")
    wait_for(lambda: queue.require_job(job_id)["status"] == "completed", timeout=10, what="a polled claim")
    assert store.count_jobs(JobQuery(status=["pending"])) == 0
