"""systemd's notification protocol (``sd_notify``) for ``Type=notify`` units, without libsystemd.

The service says ``READY=1`` once its first heartbeat reached the store (so a unit is not
"active" while the store is unreachable), pings ``WATCHDOG=1`` from its main loop at half the
unit's ``WatchdogSec`` (a wedged main loop gets the service restarted), and ``STOPPING=1`` when it
starts to drain. Outside systemd (no ``NOTIFY_SOCKET``) every call does nothing.

The variables are taken out of the environment when read, so job children never inherit them
(systemd's ``unset_environment``): only the service itself speaks for the unit.
"""

from __future__ import annotations

import os
import socket
from collections.abc import MutableMapping

_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


class SystemdNotifier:
    """Sends state lines to ``NOTIFY_SOCKET``; a no-op when the service runs outside systemd."""

    def __init__(self, address: str | None, watchdog_seconds: float | None) -> None:
        self.address = address
        self.watchdog_seconds = watchdog_seconds
        self.is_ready = False
        self._next_ping = 0.0

    @classmethod
    def from_environment(cls, environ: MutableMapping[str, str] | None = None) -> SystemdNotifier:
        """Read (and remove) ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID``."""
        env = os.environ if environ is None else environ
        values = {name: env.pop(name, None) for name in _VARIABLES}
        address = values["NOTIFY_SOCKET"] or None
        watchdog = None
        pid_ok = values["WATCHDOG_PID"] in (None, "", str(os.getpid()))
        usec = values["WATCHDOG_USEC"] or ""
        if usec.isdigit() and int(usec) > 0 and pid_ok:
            watchdog = int(usec) / 1_000_000
        return cls(address, watchdog)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *lines: str) -> bool:
        """Send ``KEY=value`` lines as one datagram; False when there is no socket or it failed.
        A failure is never fatal: systemd's own timeouts report a unit that stopped talking."""
        if self.address is None:
            return False
        address = self.address
        if address.startswith("@"):  # abstract namespace
            address = "\0" + address[1:]
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(address)
                sock.sendall("\n".join(lines).encode())
        except OSError:
            return False
        return True

    def ready(self, status: str) -> None:
        """``READY=1`` once (later calls only update the status line)."""
        if self.is_ready:
            return
        self.is_ready = True
        self.send("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def status(self, text: str) -> None:
        self.send(f"STATUS={text}")

    def stopping(self, status: str) -> None:
        self.send("STOPPING=1", f"STATUS={status}")

    def watchdog(self, now: float) -> None:
        """``WATCHDOG=1`` at most every half ``WatchdogSec`` (``now``: a monotonic clock)."""
        if self.watchdog_seconds is None or now < self._next_ping:
            return
        self._next_ping = now + self.watchdog_seconds / 2
        self.send("WATCHDOG=1")
