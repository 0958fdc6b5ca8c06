"""Plugin handlers that use measurable resources (CPU, memory, I/O), for the resource tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sccli.handlers import JobContext
from sccli.handlers.staging import partial_path, remove_partials

#: A tool the handler starts: writes its pid to ``argv[4]`` (if given), burns ``argv[1]`` seconds of
#: CPU, then holds ``argv[2]`` MB until killed (``argv[3]`` = "hold") or exits.
TOOL = """
import os, sys, time
if len(sys.argv) > 4:
    open(sys.argv[4] + ".tmp", "w").write(str(os.getpid())); os.rename(sys.argv[4] + ".tmp", sys.argv[4])
start = time.process_time()
while time.process_time() - start < float(sys.argv[1]):
    pass
block = bytearray(int(sys.argv[2]) << 20)
for i in range(0, len(block), 4096):
    block[i] = 1
while sys.argv[3] == "hold":
    time.sleep(0.05)
"""


def _burn(seconds: float) -> None:
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass


def _touch(mb: int) -> bytearray:
    block = bytearray(mb << 20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    return block


def busy(ctx: JobContext) -> dict[str, Any]:
    """Burns ``cpu`` s itself and ``tool_cpu`` s in a tool it waits for, holds ``mb`` MB, writes
    ``io_mb`` MB to ``output_path`` and reads it back."""
    _burn(float(ctx.params.get("cpu", 0.0)))
    subprocess.run([sys.executable, "-c", TOOL, str(ctx.params.get("tool_cpu", 0.0)), "0", "exit"], check=True)
    block = _touch(int(ctx.params.get("mb", 0)))
    data = os.urandom(1 << 20) * int(ctx.params.get("io_mb", 0))
    out = ctx.confine(ctx.params["output_path"])
    Path(out).write_bytes(data)
    read = len(Path(out).read_bytes())
    return {"status": "ok", "message": f"held {len(block)} bytes, read {read}"}


def hog(ctx: JobContext) -> dict[str, Any]:
    """Starts writing ``output_path`` through its partial file, then starts a tool that takes
    ``mb`` MB and waits on it (the memory is the tree's, not this process's); with
    ``own_session`` the tool calls ``setsid``; its pid goes to ``tool_pid_file`` if given."""
    final = ctx.confine(ctx.params["output_path"])
    partial = partial_path(final, ctx.attempt)
    Path(partial).write_bytes(b"half of an output\n")
    marker = ctx.params.get("marker")
    if marker:
        Path(marker).write_text(str(partial))
    # own_session: the tool leaves the job's process group and session (still a descendant)
    command = [sys.executable, "-c", TOOL, "0", str(ctx.params["mb"]), "hold"]
    if "tool_pid_file" in ctx.params:
        command.append(ctx.params["tool_pid_file"])
    subprocess.run(command, start_new_session=bool(ctx.params.get("own_session")), check=True)
    return {"status": "ok", "message": "the tool ended"}


def cleanup(job: dict[str, Any], settings: Any) -> None:
    """After a kill: remove the attempt's partial outputs."""
    remove_partials(job, settings, "output_path")


def oom(ctx: JobContext) -> dict[str, Any]:
    """Writes its partial output, records the cgroup it runs in (``SC_JOB_CGROUP``) to ``seen``,
    and with ``oom`` does what the kernel does to a cgroup over ``memory.max``: counts an
    ``oom_kill`` in ``memory.events`` and kills the process."""
    final = ctx.confine(ctx.params["output_path"])
    partial = partial_path(final, ctx.attempt)
    Path(partial).write_bytes(b"half of an output\n")
    Path(ctx.params["marker"]).write_text(str(partial))
    group = os.environ.get("SC_JOB_CGROUP", "")
    Path(ctx.params["seen"]).write_text(f"{group}\n{os.getpid()}\n")
    if ctx.params.get("oom"):
        Path(group, "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
        os.kill(os.getpid(), 9)
    return {"status": "ok", "message": "within its cgroup's limit"}
