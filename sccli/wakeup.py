"""Waking idle services on this host when a job is created: a datagram to the loopback port each
live service publishes in its ``workers`` document (``wake_port``). One job wakes one service
(:data:`WAKE_FANOUT`), chosen by rendezvous hash of the job id among those with a free slot, so
a burst of jobs spreads over the services and no job makes every idle one try an empty claim.

Best effort by design: a lost datagram costs one poll interval, never a job (services poll as
well). Only services on this host are woken; others find the job at their next poll.
"""

from __future__ import annotations

import hashlib
import socket
from typing import Any

from sccli.domain import ServiceState

WAKE = b"w"
#: How many services one new job wakes (the others find it at their next poll if need be).
WAKE_FANOUT = 1


class WakeSocket:
    """The service's end: a non-blocking UDP socket on 127.0.0.1 and an ephemeral port."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = int(self.sock.getsockname()[1])

    def fileno(self) -> int:
        return self.sock.fileno()

    def drain(self) -> bool:
        """Read every waiting datagram; whether there was any."""
        woken = False
        while True:
            try:
                self.sock.recv(64)
            except (BlockingIOError, OSError):
                return woken
            woken = True

    def close(self) -> None:
        self.sock.close()


def wake_local_services(workers: list[dict[str, Any]], host: str | None = None, key: str | None = None,
                        fanout: int = WAKE_FANOUT) -> int:
    """Send a wake-up to the running services of this host that listen: all of them without a
    ``key``, else the ``fanout`` chosen for ``key`` (a job id) by :func:`chosen`; how many."""
    host = host or socket.gethostname()
    ports = {
        str(w.get("worker_id")): w for w in workers
        if w.get("host") == host and isinstance(w.get("wake_port"), int) and w.get("status") == ServiceState.RUNNING
    }
    targets = list(ports.values()) if key is None else chosen(list(ports.values()), key, fanout)
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for worker in targets:
            try:
                sock.sendto(WAKE, ("127.0.0.1", int(worker["wake_port"])))
                sent += 1
            except OSError:  # a service that just stopped: its next poll would not come anyway
                continue
    return sent


def chosen(workers: list[dict[str, Any]], key: str, fanout: int = WAKE_FANOUT) -> list[dict[str, Any]]:
    """The ``fanout`` services that ``key`` wakes: highest rendezvous hash first, those with a free
    slot (``slots`` above its ``running_jobs``, as of its last heartbeat) before busy ones."""
    def rank(worker: dict[str, Any]) -> tuple[bool, bytes]:
        free = int(worker.get("slots") or 0) > len(worker.get("running_jobs") or [])
        digest = hashlib.blake2b(f"{key}:{worker.get('worker_id')}".encode(), digest_size=8).digest()
        return free, digest
    return sorted(workers, key=rank, reverse=True)[: max(fanout, 0)]
