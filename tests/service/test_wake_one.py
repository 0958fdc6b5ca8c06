"""A new job wakes one idle service of this host, not all of them (sccli.wakeup)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from sccli.domain import ServiceState
from sccli.wakeup import WakeSocket, chosen, wake_local_services


@pytest.fixture
def sockets() -> Iterator[list[WakeSocket]]:
    socks = [WakeSocket() for _ in range(4)]
    yield socks
    for sock in socks:
        sock.close()


def _workers(socks: list[WakeSocket], busy: tuple[int, ...] = ()) -> list[dict[str, Any]]:
    return [
        {"worker_id": f"w{i}", "host": socket.gethostname(), "status": ServiceState.RUNNING, "wake_port": s.port,
         "slots": 2, "running_jobs": ["a", "b"] if i in busy else []}
        for i, s in enumerate(socks)
    ]


def _woken(socks: list[WakeSocket]) -> list[int]:
    return [i for i, s in enumerate(socks) if s.drain()]


def test_one_job_wakes_one_service_and_jobs_spread(sockets: list[WakeSocket]) -> None:
    workers = _workers(sockets)
    seen = set()
    for n in range(40):
        assert wake_local_services(workers, key=f"job-{n}") == 1
        woken = _woken(sockets)
        assert len(woken) == 1
        seen.update(woken)
    assert seen == {0, 1, 2, 3}  # a burst spreads over every service


def test_a_busy_service_is_woken_only_when_none_has_a_free_slot(sockets: list[WakeSocket]) -> None:
    for n in range(20):
        wake_local_services(_workers(sockets, busy=(0, 1, 2)), key=f"job-{n}")
        assert _woken(sockets) == [3]
    assert [w["worker_id"] for w in chosen(_workers(sockets, busy=(0, 1, 2, 3)), "k", 2)] != []


def test_without_a_key_every_service_is_woken(sockets: list[WakeSocket]) -> None:
    assert wake_local_services(_workers(sockets)) == 4
    assert _woken(sockets) == [0, 1, 2, 3]
