"""Plugin handlers for the service tests, registered through ``settings.handlers``."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

from sccli.handlers import HandlerError, JobContext


def ok(ctx: JobContext) -> dict[str, Any]:
    """Succeeds at once; records which process ran it."""
    ctx.log.info("ok handler for %s", ctx.job["job_id"])
    return {"status": "ok", "message": "done", "pid": os.getpid(), "pgid": os.getpgrp()}


def fail(ctx: JobContext) -> dict[str, Any]:
    raise HandlerError(f"planned failure of {ctx.job['job_id']}")


def sleep_forever(ctx: JobContext) -> dict[str, Any]:
    """Writes its pid to parameters.marker (if given), then sleeps until killed."""
    marker = ctx.params.get("marker")
    if marker:
        Path(marker).write_text(str(os.getpid()))
    while True:
        time.sleep(0.05)


def spawn_grandchild_sleep(ctx: JobContext) -> dict[str, Any]:
    """Starts a `sleep` grandchild, writes its pid to parameters.marker, and waits on it."""
    proc = subprocess.Popen(["sleep", "300"])
    Path(ctx.params["marker"]).write_text(str(proc.pid))
    proc.wait()
    return {"status": "ok", "message": "sleep ended"}


def progress(ctx: JobContext) -> dict[str, Any]:
    """Reports progress for parameters.seconds (default 1.5), then succeeds."""
    seconds = float(ctx.params.get("seconds", 1.5))
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        ctx.progress(100 * elapsed / seconds, f"{elapsed:.1f}s of {seconds}s")
        time.sleep(0.05)
    return {"status": "ok", "message": "progressed"}


def slow_ok(ctx: JobContext) -> dict[str, Any]:
    """Succeeds after parameters.seconds (default 0.5)."""
    time.sleep(float(ctx.params.get("seconds", 0.5)))
    return {"status": "ok", "message": "slow done"}


def cleanup(job: dict[str, Any], settings: Any) -> None:
    """Called by the service after a kill: leaves a trace next to the job's marker."""
    marker = (job.get("parameters") or {}).get("marker")
    if marker:
        Path(marker + ".cleaned").write_text(job["job_id"])
