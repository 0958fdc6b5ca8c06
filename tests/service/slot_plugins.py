"""Plugin handlers for tests/service/test_fork_path.py."""

from __future__ import annotations

import os
import random
import time
from typing import Any

from sccli.handlers import JobContext


def span(ctx: JobContext) -> dict[str, Any]:
    """Appends ``start <pid>`` and, after parameters.seconds, ``end <pid>`` to parameters.file;
    returns a number drawn from ``random`` (each job child must draw its own)."""
    path = ctx.params["file"]
    with open(path, "a") as f:
        f.write(f"start {os.getpid()}\n")
    time.sleep(float(ctx.params.get("seconds", 0.01)))
    with open(path, "a") as f:
        f.write(f"end {os.getpid()}\n")
    return {"status": "ok", "message": "span", "draw": random.random()}
