"""The peers bench's trivial jobs, the same for every system (imported by the workers).

``noop`` returns at once. ``mark`` sends one UDP datagram ``"<token> <time.time()>"`` to the
bench on the loopback address as soon as it starts, so pickup latency is measured the same way
for every system (from just before the enqueue call to the handler's first line) and the bench
waits on a socket instead of polling. The ``sccli_*`` wrappers are the sccli handler form,
``run(ctx) -> dict``.
"""

from __future__ import annotations

import socket
import time
from typing import Any


def noop() -> bool:
    """The trivial job: returns at once (a non-None result, so Huey stores and counts it)."""
    return True


def mark(port: int, token: str) -> bool:
    """Tell the bench at 127.0.0.1:``port`` that job ``token`` started, and when."""
    started = time.time()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(f"{token} {started!r}".encode(), ("127.0.0.1", int(port)))
    return True


def sccli_noop(ctx: Any) -> dict[str, Any]:
    """``noop`` as an sccli handler."""
    return {"status": "ok", "message": "noop"}


def sccli_mark(ctx: Any) -> dict[str, Any]:
    """``mark`` as an sccli handler (``port`` and ``token`` from the job's parameters)."""
    mark(ctx.params["port"], ctx.params["token"])
    return {"status": "ok", "message": "mark"}
