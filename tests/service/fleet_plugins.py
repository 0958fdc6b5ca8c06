"""A handler that writes its own start and end records (for the fleet-wide cap tests)."""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

from sccli.handlers import JobContext


def _append(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())  # one small O_APPEND write: whole lines, whatever the writers
    finally:
        os.close(fd)


def recorded(ctx: JobContext) -> dict[str, Any]:
    """Append ``start``, sleep parameters.seconds, append ``end`` to parameters.record, each line
    with the wall time, the job id and the pid of the service that claimed it."""
    path, job = ctx.params["record"], ctx.job

    def stopped(signum: int, frame: Any) -> None:  # stopped by its service (a lost lease): the run ends here
        _append(path, f"end {time.time():.6f} {job['job_id']} {job.get('pid')}\n")
        sys.exit(1)

    signal.signal(signal.SIGTERM, stopped)
    _append(path, f"start {time.time():.6f} {job['job_id']} {job.get('pid')}\n")
    time.sleep(float(ctx.params.get("seconds", 0.1)))
    _append(path, f"end {time.time():.6f} {job['job_id']} {job.get('pid')}\n")
    return {"status": "ok", "message": "recorded"}
