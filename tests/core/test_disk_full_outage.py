"""A service on SQLite whose disk fills up: the store is "unreachable" until a real commit
succeeds again, so each outage is one line down and one line up, not a line pair per probe
(an empty transaction commits on a full disk while real writes fail)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sccli.store.base import JobQuery
from tests.conftest import StoreSpec
from tests.core.test_disk_full import _fill
from tests.service.conftest import FAST, Service, make_queue, new_job, wait_for, write_settings


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    mount = tmp_path / "small"
    mount.mkdir()
    mount_cmd = ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)]
    done = subprocess.run(mount_cmd, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_one_line_down_and_one_line_up(small_disk: Path, tmp_path: Path) -> None:
    spec = StoreSpec("sqlite", f"sqlite:///{small_disk / 'sc.db'}", "sc")
    store = spec.open()
    queue = make_queue(store)
    settings = write_settings(tmp_path)
    jobs = [new_job(queue, "slow_ok", parameters={"seconds": 0.3}) for _ in range(4)]
    service = Service(spec, settings, "--until-idle")
    try:
        _outage(service, store, queue, small_disk, jobs)
    finally:
        service.close()
    store.close()


def _outage(service: Service, store: Any, queue: Any, small_disk: Path, jobs: list[str]) -> None:
    wait_for(lambda: store.count_jobs(JobQuery(status=["completed"])) >= 1, timeout=60, what="a first completion")
    # More work arrives, then the disk fills: outcomes, heartbeats and claims now fail to commit.
    jobs += [new_job(queue, "slow_ok", parameters={"seconds": 0.3}) for _ in range(4)]
    _fill(small_disk)
    wait_for(lambda: "store unreachable" in service.log(), timeout=60, what="the service to see the full disk")
    # The outage lasts many probe periods (the link's backoff tops out at 3 heartbeats).
    deadline = time.monotonic() + 15 * 3 * FAST["heartbeat_seconds"]
    while time.monotonic() < deadline and service.log().count("store reachable again") < 2:
        time.sleep(0.05)
    (small_disk / "filler").unlink()
    assert service.wait(120) == 0, service.log()[-3000:]
    log = service.log()
    assert log.count("store unreachable") == 1, log[-3000:]
    assert log.count("store reachable again") == 1, log[-3000:]
    assert {store.get_job(j)["status"] for j in jobs} == {"completed"}
