"""Plugin handlers for the service tests, registered through ``settings.handlers``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sccli.errors import PermanentError
from sccli.handlers import HandlerError, JobContext
from sccli.handlers.staging import partial_path, promote, remove_partials, remove_path


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
    """Called by the service after a kill: leaves a trace next to the job's marker and removes the
    attempt's partial outputs (those of staged_write)."""
    marker = (job.get("parameters") or {}).get("marker")
    if marker:
        Path(marker + ".cleaned").write_text(job["job_id"])
    remove_partials(job, settings, "output_path")


# -- processes that try to outlive their job ---------------------------------------------------
IGNORE_TERM = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(sys.argv[1] + ".tmp", "w").write(str(os.getpid())); os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True: time.sleep(0.05)
"""

SETSID_DAEMON = """
import os, sys, time
os.setsid()
if os.fork(): os._exit(0)
open(sys.argv[1] + ".tmp", "w").write(str(os.getpid())); os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True: time.sleep(0.05)
"""

DOUBLE_FORK = """
import os, signal, sys, time
if os.fork() == 0:
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open(sys.argv[1] + ".tmp", "w").write(str(os.getpid())); os.rename(sys.argv[1] + ".tmp", sys.argv[1])
        while True: time.sleep(0.05)
    os._exit(0)
os.wait()
"""

ESCAPEES = {"ignore_term": IGNORE_TERM, "setsid_daemon": SETSID_DAEMON, "double_fork": DOUBLE_FORK}


def escape(ctx: JobContext) -> dict[str, Any]:
    """Starts a process that ignores SIGTERM, a setsid daemon and a double-forked one (each writes
    its pid to ``parameters.pid_dir/<kind>.pid``), then returns (``finish``) or sleeps until killed."""
    pid_dir = Path(ctx.params["pid_dir"])
    for kind, code in ESCAPEES.items():
        subprocess.Popen(
            [sys.executable, "-c", code, str(pid_dir / f"{kind}.pid")], start_new_session=kind == "ignore_term"
        )
    while not all((pid_dir / f"{kind}.pid").exists() for kind in ESCAPEES):
        time.sleep(0.01)
    if ctx.params.get("finish"):
        alive = 0
        for kind in ESCAPEES:
            try:
                os.kill(int((pid_dir / f"{kind}.pid").read_text()), 0)
                alive += 1
            except ProcessLookupError:
                pass
        return {"status": "ok", "message": "left processes behind", "alive_at_return": alive}
    while True:
        time.sleep(0.05)


# -- staged output (zombie attempts) -----------------------------------------------------------
def attempt_content(attempt: str, chunks: int) -> bytes:
    """What staged_write writes for one attempt: the attempt's name in every line."""
    return b"".join(f"{attempt} chunk {i:04d}\n".encode() * 64 for i in range(chunks))


def staged_write(ctx: JobContext) -> dict[str, Any]:
    """Writes ``parameters.output_path`` through a partial file named by the attempt, slowly
    (``chunks`` × ``chunk_sleep``), waits for ``go_file`` if given, then puts it in place only if
    the attempt holds the lease."""
    final = ctx.confine(ctx.params["output_path"])
    chunks, pause = int(ctx.params.get("chunks", 20)), float(ctx.params.get("chunk_sleep", 0.05))
    partial = partial_path(final, ctx.attempt)
    content = attempt_content(ctx.attempt, chunks)
    step = len(content) // chunks
    try:
        with open(partial, "wb") as out:
            for i in range(chunks):
                out.write(content[i * step:(i + 1) * step])
                out.flush()
                time.sleep(pause)
        go = ctx.params.get("go_file")
        while go and not Path(go).exists():
            time.sleep(0.01)
        promote(partial, final, ctx=ctx)
    except BaseException:
        remove_path(partial)
        raise
    return {"status": "ok", "message": "written", "attempt": ctx.attempt}


# -- logs and error kinds ----------------------------------------------------------------------
FLOOD_TOOL = """
import sys
chunk = b"tool " + b"x" * 1018 + b"\\n"
for _ in range(int(sys.argv[1]) // len(chunk)):
    sys.stdout.buffer.write(chunk)
"""


def flood(ctx: JobContext) -> dict[str, Any]:
    """Prints ``parameters.bytes`` through Python and as many through a tool, then one last line."""
    total = int(ctx.params["bytes"])
    line = "handler line " + "y" * 1010 + "\n"
    for _ in range(total // len(line)):
        sys.stdout.write(line)
    sys.stdout.flush()
    subprocess.run([sys.executable, "-c", FLOOD_TOOL, str(total)], check=True)
    print("THE END of the flood", flush=True)
    return {"status": "ok", "message": "flooded"}


def permanent(ctx: JobContext) -> dict[str, Any]:
    raise PermanentError(f"bad input for {ctx.job['job_id']}: will never work")
