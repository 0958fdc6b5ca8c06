"""The clock of a MongoDB store: the server's, not the host's.

Services on many hosts judge heartbeats and due times against one clock, the primary's.
:class:`ServerClock` measures the offset between this host's clock and the server's ``localTime``
(``hello``, half the round trip corrected) every minute and corrects the host's clock by it;
where the server has no ``hello`` (mongomock) the host's clock is used as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sccli.clock import OffsetClock, as_utc, utcnow

#: How often the offset between this host's clock and the server's is measured again.
CLOCK_REFRESH_SECONDS = 60.0


class ServerClock(OffsetClock):
    """This host's clock corrected to the server's, read through ``client`` (a callable: the store's
    client is opened lazily and again after a fork)."""

    def __init__(self, client: Callable[[], Any]) -> None:
        super().__init__(CLOCK_REFRESH_SECONDS)
        self.client = client

    def measure(self) -> timedelta:
        """The server's ``localTime`` minus this host's clock at the middle of the ``hello`` round trip."""
        try:
            sent = utcnow()
            reply = self.client().admin.command("hello")
            received = utcnow()
        except Exception:  # mongomock has no hello; an unreachable server shows up elsewhere
            return self.offset
        server = reply.get("localTime")
        if not isinstance(server, datetime):
            return timedelta(0)
        return as_utc(server) - (sent + (received - sent) / 2)
