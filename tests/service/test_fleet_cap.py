"""Fleet-wide limits with real services: ``max_running`` is never exceeded (sampled from the
store and from the handlers' own start/end records) while services are SIGKILLed; a rate of
N per second is observed; a limit changed while services run takes effect at once."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sccli.controls import parse_rate, set_limits
from sccli.store.base import JobQuery, Store
from tests.conftest import StoreSpec, make_spec
from tests.service.conftest import make_queue, new_job, wait_for, write_settings

TYPE = "recorded"
HANDLERS = {TYPE: "tests.service.fleet_plugins:recorded"}
#: Heartbeats of live services must not look stale on a loaded machine; killed ones are re-queued.
INTERVALS = {"workers": 3, "poll_interval_seconds": 0.02, "heartbeat_seconds": 0.3, "stale_after_seconds": 4.0}


class Sampler:
    """Counts the running jobs of TYPE in the store every few milliseconds, in a thread."""

    def __init__(self, spec: StoreSpec) -> None:
        self.store, self.counts, self._stop = spec.open(), [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.counts.append(self.store.count_jobs(JobQuery(status=["running"], job_type=[TYPE])))
            time.sleep(0.005)

    def stop(self) -> list[int]:
        self._stop.set()
        self.thread.join(10)
        self.store.close()
        return self.counts


@pytest.fixture(params=["sqlite", "wire"])
def fleet(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[StoreSpec, Store]]:
    spec = make_spec(request.param, tmp_path)
    store = spec.open()
    store.ensure_schema()
    yield spec, store
    if spec.kind == "wire":
        store.client.drop_database(spec.db_name)  # type: ignore[attr-defined]
    store.close()


def _enqueue(store: Store, record: Path, n: int, seconds: float) -> None:
    queue = make_queue(store)
    queue.extra_types = frozenset({*queue.extra_types, TYPE})
    for _ in range(n):
        new_job(queue, TYPE, parameters={"record": str(record), "seconds": seconds})


def _records(record: Path) -> list[tuple[str, float, str, str]]:
    if not record.exists():
        return []
    return [(k, float(t), job, pid) for k, t, job, pid in (line.split() for line in record.read_text().splitlines())]


def intervals(record: Path, killed: dict[str, float]) -> list[tuple[float, float]]:
    """(start, end) of every handler run; a run without an end (its service was SIGKILLed, the
    handler with it) ends when its service was killed."""
    starts: dict[tuple[str, str], float] = {}
    out = []
    for kind, at, job, pid in _records(record):
        if kind == "start":
            starts[(job, pid)] = at
        else:
            out.append((starts.pop((job, pid)), at))
    for (_, pid), at in starts.items():
        assert pid in killed, f"a run on live service {pid} has no end record"
        out.append((at, max(at, killed[pid])))
    return out


def peak(spans: list[tuple[float, float]], after: float = 0.0) -> tuple[int, float]:
    """Most runs at once (counting only moments after ``after``), and the last time it was > 1."""
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda x: (x[0], x[1]))
    running, most, last_overlap = 0, 0, 0.0
    for at, step in edges:
        running += step
        if at >= after:
            most = max(most, running)
        if running > 1:
            last_overlap = at
    return most, last_overlap


def _done(store: Store, n: int) -> bool:
    return store.count_jobs(JobQuery(status=["completed"], job_type=[TYPE])) == n


def test_max_running_is_never_exceeded_while_services_are_killed(
    fleet: tuple[StoreSpec, Store], tmp_path: Path, services: Any
) -> None:
    spec, store = fleet
    record, n = tmp_path / "records.txt", 60
    _enqueue(store, record, n, 0.1)
    set_limits(store, TYPE, {"max_running": 2}, [], "cli:test", "shared file server")
    settings = write_settings(tmp_path, handlers=HANDLERS, **INTERVALS)
    sampler = Sampler(spec)
    fleet_services = [services(spec, settings) for _ in range(6)]
    killed: dict[str, float] = {}
    for victim, after in ((fleet_services[0], 10), (fleet_services[1], 25)):
        wait_for(
            lambda after=after: len([r for r in _records(record) if r[0] == "start"]) >= after, 90, f"{after} starts"
        )
        os.kill(victim.pid, signal.SIGKILL)
        killed[str(victim.pid)] = time.time()
    wait_for(lambda: _done(store, n), 120, f"{n} jobs completed")
    counts = sampler.stop()
    assert max(counts) <= 2 and len(counts) > 50, (max(counts), len(counts))
    most, _ = peak(intervals(record, killed))
    assert most == 2, f"{most} handlers ran at once (cap 2)"
    # Several services shared the work: counted over every run started (a job's own ``pid`` keeps only its
    # last claimer, and under load one survivor can finish all 60 after the kills).
    assert len({pid for kind, _, _, pid in _records(record) if kind == "start"}) >= 2


def test_rate_per_second_is_observed(fleet: tuple[StoreSpec, Store], tmp_path: Path, services: Any) -> None:
    spec, store = fleet
    record, n = tmp_path / "records.txt", 20
    _enqueue(store, record, n, 0.01)
    set_limits(store, TYPE, {"rate": parse_rate("5/s")}, [], "cli:test")
    settings = write_settings(tmp_path, handlers=HANDLERS, **INTERVALS)
    for _ in range(3):
        services(spec, settings)
    wait_for(lambda: _done(store, n), 120, f"{n} jobs completed")
    starts = sorted(j["started_at"].timestamp() for j in store.find_jobs(JobQuery(job_type=[TYPE]), limit=None))
    # The gate counts starts on the store's clock (as each service measures it: 0.1 s for their skew under load).
    in_a_second = max(sum(1 for t in starts if s <= t < s + 0.9) for s in starts)
    assert in_a_second <= 5, in_a_second
    assert starts[-1] - starts[0] >= (n - 5) / 5 - 0.1, starts[-1] - starts[0]


def test_a_limit_changed_while_services_run_takes_effect_at_once(
    fleet: tuple[StoreSpec, Store], tmp_path: Path, services: Any
) -> None:
    spec, store = fleet
    record, n = tmp_path / "records.txt", 40
    _enqueue(store, record, n, 0.15)
    set_limits(store, TYPE, {"max_running": 3}, [], "cli:test")
    settings = write_settings(tmp_path, handlers=HANDLERS, **INTERVALS)
    for _ in range(3):
        services(spec, settings)
    wait_for(lambda: len([r for r in _records(record) if r[0] == "start"]) >= 9, 90, "9 starts")
    changed = time.time()
    set_limits(store, TYPE, {"max_running": 1}, [], "cli:test", "lowered while running")
    wait_for(lambda: _done(store, n), 120, f"{n} jobs completed")
    spans = intervals(record, {})
    before, _ = peak([s for s in spans if s[0] < changed])
    assert before >= 2  # the old cap was in use
    # Runs started before the change may finish (0.15 s); nothing new overlaps after them.
    most_after, last_overlap = peak(spans, after=changed + 0.15 + 0.5)
    assert most_after == 1, most_after
    print(f"\nlimit lowered 3 -> 1: last overlap {last_overlap - changed:.2f}s after the change")
