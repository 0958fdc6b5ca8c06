"""A change-stream event wakes one idle service (a second only as a delayed backup), not every
service that follows the stream (sccli.service.wake_rank).

MongoDB change streams exist on neither test server (mongomock has no ``watch()``, the wire
server refuses ``$changeStream``), so the fleet runs on the FAKE streams of
``tests/service/fake_changes.py``: each "service" is a real :class:`ChangeWatcher` with its own
wake socket and a claimer that answers every wake-up with one claim, as the supervisor does.
What only a replica set shows (event timing, 100 real services) is row 10 of
docs/mongodb-checklist.md.
"""

from __future__ import annotations

import select
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sccli.domain import ServiceState
from sccli.service import changes
from sccli.service.wake_rank import WakeRanks, stream_rank
from sccli.wakeup import WakeSocket
from tests.conftest import StoreSpec, add_dataset, make_spec
from tests.service.conftest import make_queue, wait_for
from tests.service.fake_changes import FakeChangeStreams

NOW = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)


def _worker(i: int, *, beat: timedelta = timedelta(0), status: str = ServiceState.RUNNING.value, busy: bool = False,
            types: list[str] | None = None) -> dict[str, Any]:
    return {"worker_id": f"w{i}", "status": status, "heartbeat_at": NOW - beat, "slots": 1,
            "running_jobs": ["x"] if busy else [], "types": types or []}


def _firsts(fleet: list[dict[str, Any]], key: str, job_type: str | None = None) -> list[str]:
    """The services that would wake at once for ``key``, each judging from the same fleet view."""
    return [w["worker_id"] for w in fleet if stream_rank(fleet, w["worker_id"], key, job_type, NOW, 60.0) == 0]


def test_each_job_wakes_exactly_one_service_at_once_and_jobs_spread() -> None:
    fleet = [_worker(i) for i in range(10)]
    chosen = [_firsts(fleet, f"job-{n}") for n in range(300)]
    assert all(len(c) == 1 for c in chosen)
    assert len({c[0] for c in chosen}) == 10
    backups = [[w["worker_id"] for w in fleet if stream_rank(fleet, w["worker_id"], f"job-{n}", None, NOW, 60.0) == 1]
               for n in range(300)]
    assert all(len(b) == 1 for b in backups) and all(b != c for b, c in zip(backups, chosen, strict=True))


def test_dead_stopping_busy_and_other_type_services_are_not_chosen_before_idle_ones() -> None:
    fleet = [_worker(0), _worker(1, beat=timedelta(minutes=5)), _worker(2, status=ServiceState.DRAINING.value),
             _worker(3, busy=True), _worker(4, types=["google_sync"])]
    judges = ["w0", "w3", "w4"]  # the live ones (the dead and draining do not judge: they do not claim)
    for n in range(100):
        first = [me for me in judges if stream_rank(fleet, me, f"job-{n}", "file_upload", NOW, 60.0) == 0]
        assert first == ["w0"]
    typed = [me for me in judges if stream_rank(fleet, me, "job-x", "google_sync", NOW, 60.0) == 0]
    assert len(typed) == 1 and typed[0] in ("w0", "w4")


def test_a_service_not_yet_in_the_fleet_counts_itself_and_an_unreadable_fleet_wakes() -> None:
    assert stream_rank([], "new", "job", None, NOW, 60.0) == 0

    def broken() -> list[dict[str, Any]]:
        raise RuntimeError("store down")

    assert WakeRanks(broken, lambda: NOW, "w0", 1.0, 60.0).rank("job", None) == 0


class _Service:
    """A change watcher, its wake socket and a claimer that claims once per wake-up (one slot)."""

    def __init__(self, store: Any, worker_id: str, ranked: bool) -> None:
        self.store, self.worker_id, self.queue = store, worker_id, make_queue(store)
        self.wake = WakeSocket()
        self.claims = self.empty = 0
        doc = {"worker_id": worker_id, "host": "h", "status": "running", "heartbeat_at": store.now(), "slots": 1,
               "running_jobs": [], "types": [], "wake_port": self.wake.port}
        store.upsert_worker(doc)
        ranks = WakeRanks(store.list_workers, store.now, worker_id, 60.0, 60.0) if ranked else None
        self.watcher = changes.ChangeWatcher(store, self.wake.port, 30.0, ranks).start()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            ready, _, _ = select.select([self.wake], [], [], 0.05)
            if ready and self.wake.drain():
                job = self.queue.claim_next(self.worker_id, ["ok"])
                self.claims += 1
                if job is None:
                    self.empty += 1
                else:
                    self.queue.complete(job["job_id"], job["lease_token"], {"ok": True})

    def close(self) -> None:
        self.stop.set()
        self.watcher.stop()
        self.thread.join(timeout=10)
        self.wake.close()


def _run_fleet(spec: StoreSpec, monkeypatch: pytest.MonkeyPatch, ranked: bool, services: int = 6, jobs: int = 12,
               ghosts: int = 0) -> list[_Service]:
    FakeChangeStreams().install(monkeypatch)
    monkeypatch.setattr(changes, "BACKUP_SECONDS", 1.5)  # a first claim is in long before, even on a loaded host
    store = spec.open()
    queue = make_queue(store)
    monkeypatch.setattr(queue, "_wake_services", lambda *_: None)  # no datagram: only the streams wake
    for i in range(ghosts):  # a service that died since its last heartbeat: fresh document, nobody claims
        store.upsert_worker({"worker_id": f"ghost{i}", "status": "running", "heartbeat_at": store.now(), "slots": 1,
                             "running_jobs": [], "types": []})
    fleet = [_Service(store, f"svc{i}", ranked) for i in range(services)]
    try:
        wait_for(lambda: all(s.watcher.state == "open" for s in fleet), what="every stream open")
        # The watcher says "open" just before it sends its opening wake-up: wait for each service's claim
        # on it, or a late one would take the first job and leave its change event nothing to do.
        wait_for(lambda: all(s.claims >= 1 for s in fleet), what="the claims the opening wake-ups caused")
        for s in fleet:
            s.claims = s.empty = 0  # the claims those opening wake-ups caused are not the jobs'
        for _ in range(jobs):
            job_id = queue.create_job(add_dataset(store), "ok")
            wait_for(
                lambda job_id=job_id: queue.require_job(job_id)["status"] == "completed",
                timeout=30,
                what="the woken claim",
            )
        wait_for(lambda: sum(s.claims for s in fleet) >= jobs, what="the claims counted")
        # late backups and stragglers: give them time to show before counting
        threading.Event().wait(2.0)
    finally:
        for s in fleet:
            s.close()
    return fleet


@pytest.fixture
def mock_spec(tmp_path: Path) -> Iterator[StoreSpec]:
    yield make_spec("mongomock", tmp_path)


def test_a_new_job_wakes_one_service_of_the_fleet_not_all(
    mock_spec: StoreSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = _run_fleet(mock_spec, monkeypatch, ranked=True)
    jobs, services = 12, len(fleet)
    claims, empty = sum(s.claims for s in fleet), sum(s.empty for s in fleet)
    assert sum(s.watcher.counts["first"] for s in fleet) == jobs  # each job woke exactly one service at once
    assert sum(s.watcher.counts["passed"] for s in fleet) == jobs * (services - 2)
    assert claims - empty == jobs and empty <= jobs // 4, (claims, empty)  # backups find the job taken
    assert sum(s.watcher.counts["backup"] for s in fleet) == jobs
    assert sum(s.watcher.counts["backup_woken"] for s in fleet) <= jobs // 4


def test_a_job_whose_first_service_died_is_taken_by_its_backup(
    mock_spec: StoreSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 16 jobs: the ghost ranks first for none of them with a chance of 2**-16 (with 10, 2**-10)
    fleet = _run_fleet(mock_spec, monkeypatch, ranked=True, services=1, jobs=16, ghosts=1)  # no poll in this fleet
    assert sum(s.claims - s.empty for s in fleet) == 16
    assert fleet[0].watcher.counts["first"] + fleet[0].watcher.counts["backup_woken"] == 16
    assert fleet[0].watcher.counts["backup_woken"] >= 1  # the ghost ranked first for some of them


def test_without_ranks_every_service_claims_for_every_job(
    mock_spec: StoreSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old behaviour, for contrast: what the ranked fleet saves."""
    fleet = _run_fleet(mock_spec, monkeypatch, ranked=False)
    assert sum(s.empty for s in fleet) >= 12 * 3
