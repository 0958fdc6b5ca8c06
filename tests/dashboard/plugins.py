"""Plugin handlers for the browser tests (registered through ``settings.handlers``)."""

from __future__ import annotations

import time
from typing import Any

from sccli.handlers import HandlerError, JobContext


def logged_progress(ctx: JobContext) -> dict[str, Any]:
    """Logs a line and reports progress every 0.1 s for parameters.seconds (default 4)."""
    seconds = float(ctx.params.get("seconds", 4))
    start, step = time.monotonic(), 0
    while (elapsed := time.monotonic() - start) < seconds:
        step += 1
        ctx.log.info("step %d of the logged_progress handler", step)
        ctx.progress(100 * elapsed / seconds, f"step {step}")
        time.sleep(0.1)
    return {"status": "ok", "steps": step}


def quick(ctx: JobContext) -> dict[str, Any]:
    """Succeeds at once."""
    return {"status": "ok"}


def broken(ctx: JobContext) -> dict[str, Any]:
    """Fails every attempt with the same error."""
    raise HandlerError("calibration file missing for this sensor")
