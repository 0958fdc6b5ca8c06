"""A job created on this host wakes idle services at once; a woken service still honours pauses
and priorities, and a lost wake-up is covered by the poll — on every backend. On MongoDB a change
stream wakes services too (tested on FAKE change streams, tests/service/fake_changes.py), and a
server without them, or a stream lost, falls back to the poll with one log line.

SQLite and the wire server run ``sc service run`` as a process; mongomock lives in this process,
so there the supervisor runs in the main thread while the scenario drives it from a thread."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sccli.pause import ALL_TYPES, pause_types, resume_types
from sccli.service import changes
from sccli.store.base import JobQuery
from sccli.wakeup import WakeSocket
from tests.conftest import StoreSpec, add_dataset, make_spec
from tests.service.conftest import make_queue, wait_for, write_settings
from tests.service.fake_changes import FakeChangeStreams

#: Far longer than any wait below: a job picked up in time was woken, not polled.
LONG_POLL = {"poll_interval_seconds": 30.0, "heartbeat_seconds": 0.2, "stale_after_seconds": 5.0}
Scenario = Callable[[], None]


@pytest.fixture(params=["sqlite", "mongomock", "wire"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreSpec]:
    spec = make_spec(request.param, tmp_path)
    yield spec
    if spec.kind == "wire":
        spec.open().client.drop_database(spec.db_name)  # type: ignore[attr-defined]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def serve_while(spec: StoreSpec, settings: Path, scenario: Scenario, services: Callable[..., Any]) -> str:
    """Run a service on ``spec``'s store while ``scenario`` runs; the service's log."""
    if spec.kind != "mongomock":
        service = services(spec, settings)
        scenario()
        return str(service.log())
    return _serve_in_process(spec, settings, scenario)


def _serve_in_process(spec: StoreSpec, settings_path: Path, scenario: Scenario) -> str:
    from sccli.queue import JobQueue
    from sccli.service.config import ServiceOptions, validate_service_settings
    from sccli.service.supervisor import Supervisor
    from sccli.settings import load_settings

    settings = load_settings(settings_path)
    service_queue = JobQueue(spec.open(), retry_base_seconds=0, retry_max_seconds=0, extra_types=settings.handlers)
    supervisor = Supervisor(service_queue, settings, validate_service_settings(settings), ServiceOptions())
    default_term, served, failures = signal.getsignal(signal.SIGTERM), threading.Event(), []

    def drive() -> None:
        try:
            scenario()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            failures.append(exc)
        finally:  # stop the supervisor once it handles SIGTERM (never the test process itself)
            wait_for(
                lambda: served.is_set() or signal.getsignal(signal.SIGTERM) is not default_term,
                what="the supervisor's signal handler",
            )
            if not served.is_set():
                os.kill(os.getpid(), signal.SIGTERM)

    records = _Records()
    logger = logging.getLogger("sccli.service")
    logger.addHandler(records)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    driver = threading.Thread(target=drive)
    driver.start()
    try:
        supervisor.run()
    finally:
        served.set()
        driver.join()
        logger.removeHandler(records)
        logger.setLevel(level)
    if failures:
        raise failures[0]
    return "\n".join(records.lines)


def _listening(store: Any) -> bool:
    return any(w.get("wake_port") and w.get("status") == "running" for w in store.list_workers())


def _status(queue: Any, job_id: str) -> str:
    return str(queue.require_job(job_id)["status"])


# -- the wake-up datagram, on every backend ---------------------------------------------------
def test_a_new_job_wakes_an_idle_service(spec: StoreSpec, tmp_path: Path, services: Callable[..., Any]) -> None:
    store = spec.open()
    queue = make_queue(store)

    def scenario() -> None:
        wait_for(lambda: _listening(store), timeout=60, what="the service's wake port")  # a cold first start is slow
        first = queue.create_job(add_dataset(store), "ok")
        wait_for(lambda: _status(queue, first) == "completed", timeout=10, what="a woken claim")
        second = queue.create_job(add_dataset(store), "ok")  # idle again: woken again
        wait_for(lambda: _status(queue, second) == "completed", timeout=10, what="a second woken claim")

    serve_while(spec, write_settings(tmp_path, **LONG_POLL), scenario, services)


def test_a_woken_service_honours_pauses_and_priority(
    spec: StoreSpec, tmp_path: Path, services: Callable[..., Any]
) -> None:
    store = spec.open()
    queue = make_queue(store)
    outcome: dict[str, Any] = {}

    def scenario() -> None:
        wait_for(lambda: _listening(store), timeout=60, what="the service's wake port")  # a cold first start is slow
        pause_types(store, None, "maintenance", "cli:test@host")  # everything: these wake-ups claim nothing
        low = queue.create_job(add_dataset(store), "ok", priority=3)
        high = queue.create_job(add_dataset(store), "ok", priority=1)
        still = queue.create_job(add_dataset(store), "slow_ok", {"seconds": 0.1})
        outcome["while paused"] = [_status(queue, j) for j in (low, high, still)]
        # slow_ok paused on its own before the pause of everything is lifted: a claim between two
        # writes of the test could otherwise take it, as a claim may while it is not paused
        pause_types(store, ["slow_ok"], "maintenance", "cli:test@host")
        resume_types(store, [ALL_TYPES], "cli:test@host")
        trigger = queue.create_job(add_dataset(store), "ok", priority=2)  # its wake-up claims in priority order
        jobs = wait_for(
            lambda: (
                all(_status(queue, j) == "completed" for j in (low, high, trigger))
                and [queue.require_job(j) for j in (low, high, trigger)]
            ),
            timeout=10,
            what="woken claims",
        )
        outcome["started"] = [j["started_at"] for j in jobs]
        outcome["held"] = _status(queue, still)

    serve_while(spec, write_settings(tmp_path, workers=1, **LONG_POLL), scenario, services)
    assert outcome["while paused"] == ["pending"] * 3
    low_at, high_at, trigger_at = outcome["started"]
    assert high_at <= trigger_at <= low_at
    assert outcome["held"] == "pending"


def test_a_lost_wake_up_is_covered_by_the_poll(
    spec: StoreSpec, tmp_path: Path, services: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = spec.open()
    queue = make_queue(store)
    monkeypatch.setattr(queue, "_wake_services", lambda *_: None)  # the datagram never arrives

    def scenario() -> None:
        wait_for(lambda: _listening(store), timeout=60, what="the service's wake port")  # a cold first start is slow
        job_id = queue.create_job(add_dataset(store), "ok")
        wait_for(lambda: _status(queue, job_id) == "completed", timeout=10, what="a polled claim")

    serve_while(spec, write_settings(tmp_path, poll_interval_seconds=0.3), scenario, services)
    assert store.count_jobs(JobQuery(status=["pending"])) == 0


# -- MongoDB change streams ---------------------------------------------------------------------
@pytest.fixture
def mock_spec(tmp_path: Path) -> StoreSpec:
    return make_spec("mongomock", tmp_path)


def test_the_stream_passes_only_changes_that_make_a_job_pending(
    mock_spec: StoreSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    FakeChangeStreams().install(monkeypatch)
    store = mock_spec.open()
    queue = make_queue(store)
    job_id = queue.create_job(add_dataset(store), "ok", max_attempts=2)  # before the stream: not seen
    with store.coll("jobs").watch(changes.PIPELINE, max_await_time_ms=10) as stream:  # type: ignore[attr-defined]
        claimed = queue.claim_next("w1", ["ok"])
        assert claimed is not None
        queue.heartbeat(job_id, claimed["lease_token"], 50.0, "half")
        queue.fail(job_id, claimed["lease_token"], "boom")  # a retry: running -> pending
        other = queue.create_job(add_dataset(store), "ok")
        seen = []
        while (change := stream.try_next()) is not None:
            seen.append(change["operationType"])
    assert seen == ["update", "insert"]  # the retry and the new job; not the claim, not the heartbeat
    assert _status(queue, job_id) == "pending" and _status(queue, other) == "pending"


def test_a_watcher_wakes_its_service_for_a_new_pending_job(
    mock_spec: StoreSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    FakeChangeStreams().install(monkeypatch)
    store = mock_spec.open()
    queue = make_queue(store)
    wake = WakeSocket()
    watcher = changes.watch_changes(store, wake.port, 1.0)
    assert watcher is not None
    try:
        wait_for(lambda: watcher.state == "open", what="the stream")
        wait_for(wake.drain, what="the wake-up sent when the stream opened")
        queue.create_job(add_dataset(store), "ok")
        wait_for(wake.drain, what="a wake-up for the new job")
    finally:
        watcher.stop()
        wake.close()
    assert changes.watch_changes(make_spec("sqlite", tmp_path).open(), wake.port, 1.0) is None  # no streams on SQLite


def test_a_change_stream_wakes_an_idle_service(
    mock_spec: StoreSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, services: Callable[..., Any]
) -> None:
    FakeChangeStreams().install(monkeypatch)
    store = mock_spec.open()
    queue = make_queue(store)
    monkeypatch.setattr(queue, "_wake_services", lambda *_: None)  # no datagram: only the stream can wake it

    def scenario() -> None:
        wait_for(lambda: _listening(store), what="the service's worker document")
        job_id = queue.create_job(add_dataset(store), "fail", max_attempts=2)
        wait_for(lambda: queue.require_job(job_id)["attempts"] == 2 and _status(queue, job_id) == "failed", timeout=10,
                 what="a claim woken by the insert, then one woken by the retry's update to pending")
        again = queue.create_job(add_dataset(store), "ok")
        wait_for(lambda: _status(queue, again) == "completed", timeout=10, what="a second woken claim")

    log = serve_while(mock_spec, write_settings(tmp_path, **LONG_POLL), scenario, services)
    assert "following MongoDB change streams" in log


@pytest.mark.parametrize("kind", ["mongomock", "wire"])
def test_a_server_without_change_streams_falls_back_to_the_poll(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, services: Callable[..., Any]
) -> None:
    spec = make_spec(kind, tmp_path)  # mongomock has no watch(); the wire server refuses $changeStream
    store = spec.open()
    queue = make_queue(store)
    monkeypatch.setattr(queue, "_wake_services", lambda *_: None)
    try:
        def scenario() -> None:
            # a cold first start is slow
            wait_for(lambda: _listening(store), timeout=60, what="the service's wake port")
            job_id = queue.create_job(add_dataset(store), "ok")
            wait_for(lambda: _status(queue, job_id) == "completed", timeout=10, what="a polled claim")

        log = serve_while(spec, write_settings(tmp_path, poll_interval_seconds=0.3), scenario, services)
    finally:
        if kind == "wire":
            store.client.drop_database(spec.db_name)  # type: ignore[attr-defined]
    assert sum("change stream" in line for line in log.splitlines()) == 1, log
    assert "offers no change streams" in log and "polling every 0.3s" in log
    assert "Traceback" not in log


def test_a_lost_change_stream_falls_back_to_the_poll_and_reopens(
    mock_spec: StoreSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, services: Callable[..., Any]
) -> None:
    from pymongo.errors import AutoReconnect

    hub = FakeChangeStreams().install(monkeypatch)
    monkeypatch.setattr(changes, "BACKOFF_BASE", 0.02)
    monkeypatch.setattr(changes, "BACKOFF_MAX", 0.05)
    store = mock_spec.open()
    queue = make_queue(store)
    monkeypatch.setattr(queue, "_wake_services", lambda *_: None)

    def scenario() -> None:
        wait_for(lambda: hub.streams, what="the stream")
        opened = hub.opened
        hub.refuse = AutoReconnect("connection reset by peer")  # reopening fails for a while
        hub.break_with(AutoReconnect("connection reset by peer"))
        wait_for(lambda: not hub.streams, what="the stream to break")
        job_id = queue.create_job(add_dataset(store), "ok")  # while the stream is down: no wake-up
        monkeypatch.setattr(hub, "refuse", None)
        wait_for(
            lambda: _status(queue, job_id) == "completed", timeout=10, what="the claim woken when the stream reopened"
        )
        assert hub.opened > opened
        opened = hub.opened
        hub.break_with(RuntimeError("a bug in the stream"))  # not a PyMongoError: the service shrugs it off too
        wait_for(lambda: hub.opened > opened, what="the stream reopened after the second break")
        again = queue.create_job(add_dataset(store), "ok")
        wait_for(lambda: _status(queue, again) == "completed", timeout=10, what="a claim after the second break")

    log = serve_while(mock_spec, write_settings(tmp_path, **LONG_POLL), scenario, services)
    lines = log.splitlines()
    assert sum("change stream lost" in line for line in lines) == 2, log  # one per break, not one per retry
    assert sum("change stream open again" in line for line in lines) == 2, log
    assert "AutoReconnect" in log and "RuntimeError" in log


def test_an_idle_poll_on_sqlite_reads_first_and_takes_no_write_lock(tmp_path: Path) -> None:
    import sqlite3

    from sccli.queue import JobQueue
    from sccli.store.sqlite import SqliteStore

    spec = make_spec("sqlite", tmp_path)
    queue = make_queue(spec.open())
    poller = JobQueue(SqliteStore(queue.store.path, busy_timeout_ms=50), extra_types={"ok"})  # type: ignore[attr-defined]
    assert poller.claim_next("w1", ["ok"]) is None  # its connection and schema check, before the lock
    writer = sqlite3.connect(queue.store.path, isolation_level=None)  # type: ignore[attr-defined]
    writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        assert poller.claim_next("w1", ["ok"]) is None  # nothing ready: answered by a read, no lock wait
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    job_id = queue.create_job(add_dataset(queue.store), "ok")
    claimed = poller.claim_next("w1", ["ok"])
    assert claimed is not None and claimed["job_id"] == job_id
