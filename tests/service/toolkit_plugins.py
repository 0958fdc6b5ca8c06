"""A handler for the toolkit tests: logs numbered lines for a while, then succeeds."""

from __future__ import annotations

import time
from typing import Any

from sccli.handlers import JobContext


def chatty(ctx: JobContext) -> dict[str, Any]:
    """Logs ``chatty <i>`` parameters.lines times (default 10), parameters.interval apart."""
    for i in range(int(ctx.params.get("lines", 10))):
        ctx.log.info("chatty %d", i)
        time.sleep(float(ctx.params.get("interval", 0.05)))
    return {"status": "ok", "message": "chatted"}
