"""Handlers of the stall tests: progress that moves for a while, then stops."""

from __future__ import annotations

import time
from typing import Any

from sccli.handlers.base import JobContext


def progress_then_hang(ctx: JobContext) -> dict[str, Any]:
    """Reports moving progress for parameters.seconds, then hangs without any (until killed)."""
    seconds = float(ctx.params.get("seconds", 1.0))
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        ctx.progress(50 * elapsed / seconds, f"{elapsed:.2f}s")
        time.sleep(0.02)
    while True:
        time.sleep(1)
