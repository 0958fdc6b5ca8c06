"""Waking idle services on this host when a job is created: a datagram to the loopback port each
live service publishes in its ``workers`` document (``wake_port``).

Best effort by design: a lost datagram costs one poll interval, never a job (services poll as
well). Only services on this host are woken; others find the job at their next poll.
"""

from __future__ import annotations

import socket
from typing import Any

from sccli.domain import ServiceState

WAKE = b"w"


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


def wake_local_services(workers: list[dict[str, Any]], host: str | None = None) -> int:
    """Send a wake-up to every running service of this host that listens; how many."""
    host = host or socket.gethostname()
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for worker in workers:
            port = worker.get("wake_port")
            if worker.get("host") != host or not isinstance(port, int) or worker.get("status") != ServiceState.RUNNING:
                continue
            try:
                sock.sendto(WAKE, ("127.0.0.1", port))
                sent += 1
            except OSError:  # a service that just stopped: its next poll would not come anyway
                continue
    return sent
