"""Services whose host clocks are 60 s ahead and 60 s behind share one SQLite file with a
healthy one (libfaketime, Debian package ``faketime``): staleness is judged on the database
file's clock, so nobody steals a live service's jobs, and a dead service's jobs are recovered
after ``stale_after_seconds`` and a sweep, whatever the clocks of the dead and the sweeper."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sccli.store.base import JobQuery
from tests.conftest import StoreSpec, make_spec
from tests.service.conftest import ROOT, make_queue, new_job, service_env, wait_for, write_settings

_CANDIDATES = glob.glob("/usr/lib/*/faketime/libfaketime.so.1") + glob.glob("/usr/lib/faketime/libfaketime.so.1")
LIBFAKETIME = next(iter(sorted(_CANDIDATES)), None)


class Skewed:
    """``sc service run`` as a real process whose clock is shifted by ``offset`` (e.g. "+60s")."""

    def __init__(self, spec: StoreSpec, settings: Path, offset: str | None) -> None:
        self.log_path = settings.parent / f"service-{offset or 'true'}-{time.monotonic_ns()}.log"
        env = service_env()
        if offset is not None:
            env.update(LD_PRELOAD=str(LIBFAKETIME), FAKETIME=offset, FAKETIME_DONT_RESET="1")
        cmd = [sys.executable, "-m", "sccli", "--db", spec.url, "service", "run", str(settings)]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, env=env, cwd=ROOT,
                                         start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def skewed(tmp_path: Path) -> Iterator[tuple[StoreSpec, list[Skewed]]]:
    if LIBFAKETIME is None:
        pytest.skip("libfaketime is not installed (Debian package faketime; scripts/install-tools.sh installs it)")
    started: list[Skewed] = []
    yield make_spec("sqlite", tmp_path), started
    for service in started:
        service.stop()


def _start(spec: StoreSpec, settings: Path, offset: str | None, started: list[Skewed]) -> Skewed:
    service = Skewed(spec, settings, offset)
    started.append(service)
    return service


def test_skewed_services_steal_nothing_from_a_healthy_one(skewed: tuple[StoreSpec, list[Skewed]],
                                                          tmp_path: Path) -> None:
    spec, started = skewed
    store = spec.open()
    queue = make_queue(store)
    settings = write_settings(tmp_path)  # stale_after 1 s, heartbeats every 0.2 s, a sweep each
    jobs = [new_job(queue, "slow_ok", parameters={"seconds": 2.5}) for _ in range(6)]
    services = [_start(spec, settings, offset, started) for offset in (None, "+60s", "-60s")]
    ended = {"completed", "failed", "cancelled"}
    statuses = lambda: {store.get_job(j)["status"] for j in jobs}  # type: ignore[index]  # noqa: E731
    wait_for(lambda: statuses() <= ended, timeout=120, what="every job to end")
    assert {store.get_job(j)["status"] for j in jobs} == {"completed"}  # type: ignore[index]
    for service in services:
        assert "recovered stale job" not in service.log(), service.log()[-3000:]
        assert "lease lost" not in service.log(), service.log()[-3000:]
    assert [store.get_job(j)["attempts"] for j in jobs] == [1] * len(jobs)  # type: ignore[index]
    workers = {store.get_job(j)["worker_id"] for j in jobs}  # type: ignore[index]
    assert len(workers) >= 2  # the skewed services ran jobs too, next to the healthy one
    store.close()


@pytest.mark.parametrize(("dead", "sweeper"), [("+60s", "-60s"), ("-60s", "+60s")])
def test_a_dead_services_jobs_are_recovered_whatever_the_clocks(skewed: tuple[StoreSpec, list[Skewed]], tmp_path: Path,
                                                                dead: str, sweeper: str) -> None:
    spec, started = skewed
    store = spec.open()
    queue = make_queue(store)
    settings = write_settings(tmp_path)
    jobs = [new_job(queue, "slow_ok", parameters={"seconds": 600}) for _ in range(2)]
    victim = _start(spec, settings, dead, started)
    wait_for(lambda: store.count_jobs(JobQuery(status=["running"])) == 2, timeout=60,
             what="the doomed service to claim both jobs")
    victim.stop()  # SIGKILL: no drain, its heartbeats simply stop
    rescuer = _start(spec, settings, sweeper, started)
    # stale_after_seconds (1 s) and one sweep (0.2 s); the ceiling only absorbs the machine's load
    # (the skew, 120 s between these two clocks, would far exceed it).
    attempts = lambda: [store.get_job(j)["attempts"] for j in jobs]  # type: ignore[index]  # noqa: E731
    wait_for(lambda: attempts() == [2, 2], timeout=40, what="the dead service's jobs to be recovered")
    assert rescuer.log().count("recovered stale job") == 2, rescuer.log()[-3000:]
    store.close()
