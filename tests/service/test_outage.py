"""Store outages in the middle of a run: the service keeps its children working, logs each change
of state once, and records every result when the store is back."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

from sccli.queue import JobQueue
from sccli.service.config import ServiceOptions, validate_service_settings
from sccli.service.supervisor import Supervisor
from sccli.settings import load_settings
from sccli.store.base import JobQuery
from sccli.store.sqlite import SqliteStore
from tests.conftest import StoreSpec, make_spec
from tests.service.conftest import make_queue, new_job, wait_for, write_settings

JOBS = 8


def _completed(store) -> int:
    return store.count_jobs(JobQuery(status=["completed"]))


def _assert_each_completed_once(store) -> None:
    jobs = store.find_jobs(JobQuery(), limit=None)
    assert Counter(j["status"] for j in jobs) == {"completed": JOBS}
    assert all(j["attempts"] == 1 for j in jobs)


def test_sqlite_locked_mid_run(tmp_path: Path) -> None:
    spec = make_spec("sqlite", tmp_path)
    store = spec.open()
    queue = make_queue(store)
    for _ in range(JOBS):
        new_job(queue, "slow_ok", parameters={"seconds": 0.15})
    settings = load_settings(write_settings(tmp_path))
    service_queue = JobQueue(
        SqliteStore(store.path, busy_timeout_ms=100), retry_base_seconds=0, retry_max_seconds=0,
        extra_types=settings.handlers,
    )
    supervisor = Supervisor(
        service_queue, settings, validate_service_settings(settings), ServiceOptions(until_idle=True)
    )
    held = threading.Event()

    def hold_lock() -> None:
        wait_for(lambda: _completed(store) >= 3, what="first completions")
        conn = sqlite3.connect(store.path, timeout=10, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        held.set()
        time.sleep(1.2)  # the outage: every write of the service fails meanwhile
        conn.execute("COMMIT")
        conn.close()

    locker = threading.Thread(target=hold_lock)
    locker.start()
    records = _Records()
    logger = logging.getLogger("sccli.service")
    logger.addHandler(records)
    try:
        assert supervisor.run() == 0
    finally:
        logger.removeHandler(records)
    locker.join()
    assert held.is_set()
    _assert_each_completed_once(store)
    messages = records.messages
    assert sum("store unreachable" in m for m in messages) == 1, messages
    assert sum("store reachable again" in m for m in messages) == 1


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class FlakyProxy:
    """A TCP proxy to the wire server that can drop every connection and refuse new ones."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = threading.Event()
        self.up.set()
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def drop(self) -> None:
        self.up.clear()
        with self.lock:
            for s in self.open:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.open.clear()

    def close(self) -> None:
        self.drop()
        self.listener.close()


def test_mongo_connections_dropped_mid_run(wire_spec: StoreSpec, tmp_path: Path, services) -> None:
    target = urlparse(wire_spec.url)
    proxy = FlakyProxy(target.hostname or "127.0.0.1", target.port or 27017)
    try:
        store = wire_spec.open()
        queue = make_queue(store)
        for _ in range(JOBS):
            new_job(queue, "slow_ok", parameters={"seconds": 0.15})
        via_proxy = StoreSpec("wire", f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true", wire_spec.db_name)
        service = services(via_proxy, write_settings(tmp_path, store_timeout_seconds=0.3), "--until-idle")
        wait_for(lambda: _completed(store) >= 3, what="first completions")
        proxy.drop()
        time.sleep(1.2)  # the outage
        proxy.up.set()
        assert service.wait(60) == 0, service.log()
        _assert_each_completed_once(store)
        log = service.log()
        assert 1 <= log.count("store unreachable") <= 2, log  # once per change of state, not per poll
        assert log.count("store reachable again") == log.count("store unreachable")
        assert "Traceback" not in log
    finally:
        proxy.close()


def test_stopped_while_the_store_is_down_says_what_it_could_not_record(tmp_path: Path) -> None:
    spec = make_spec("sqlite", tmp_path)
    store = spec.open()
    job_id = new_job(make_queue(store), "slow_ok", parameters={"seconds": 0.5})
    settings = load_settings(write_settings(tmp_path, drain_seconds=1))
    service_queue = JobQueue(SqliteStore(store.path, busy_timeout_ms=100), extra_types=settings.handlers)
    supervisor = Supervisor(service_queue, settings, validate_service_settings(settings), ServiceOptions())
    conn = sqlite3.connect(store.path, timeout=10, isolation_level=None, check_same_thread=False)

    def outage_then_sigterm() -> None:
        try:
            wait_for(lambda: store.get_job(job_id)["status"] == "running", what="job claimed")
            conn.execute("BEGIN EXCLUSIVE")
            time.sleep(1.0)  # the handler finishes meanwhile; its completion cannot be written
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    records = _Records()
    logging.getLogger("sccli.service").addHandler(records)
    thread = threading.Thread(target=outage_then_sigterm)
    thread.start()
    try:
        assert supervisor.run() == 1
    finally:
        logging.getLogger("sccli.service").removeHandler(records)
        thread.join()
        conn.execute("ROLLBACK")
        conn.close()
    assert any("not recorded" in m and "re-queued as stale" in m for m in records.messages), records.messages
    assert store.get_job(job_id)["status"] == "running"  # left for a live service's sweeper, not lost
