"""Running the external tools (rsync, rclone, 7z, ...): argument lists only, output streamed
line by line to the job log, progress parsed from those lines.

The child shares the handler's process group, so the service's kill of that group (cancel,
timeout) stops the tool too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from sccli.errors import PermanentError, ScError
from sccli.handlers.base import HandlerError, JobContext
from sccli.tool_errors import summarize_failure

LineHook = Callable[[str], None]
#: Debian packages providing the tools handlers run.
TOOL_PACKAGES = {"rsync": "rsync", "rclone": "rclone", "7z": "7zip (or p7zip-full)", "unzip": "unzip"}


class MissingTool(PermanentError):
    """A command-line tool a handler needs is not installed: every attempt would fail the same way."""


def require_tool(name: str) -> str:
    """The full path of a command-line tool, or MissingTool naming it and how to install it."""
    path = shutil.which(name)
    if path is None:
        package = TOOL_PACKAGES.get(name, name)
        raise MissingTool(
            f"the {name!r} command is not installed: apt-get install {package} (or scripts/install-tools.sh)"
        )
    return path


def _lines(stream) -> object:
    """Yield text lines split on \\n or \\r (rsync and rclone redraw progress with \\r)."""
    buffer = b""
    while True:
        chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
        if not chunk:
            break
        buffer += chunk
        parts = buffer.replace(b"\r", b"\n").split(b"\n")
        buffer = parts.pop()
        for part in parts:
            if part.strip():
                yield part.decode("utf-8", "replace").rstrip()
    if buffer.strip():
        yield buffer.decode("utf-8", "replace").rstrip()


def run_tool(
    ctx: JobContext,
    argv: Sequence[str | os.PathLike[str]],
    *,
    on_line: LineHook | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    quiet: Callable[[str], bool] | None = None,
    keep: int | None = 20,
    preexec: Callable[[], None] | None = None,
    classify: Callable[[int, list[str]], type[ScError] | None] | None = None,
) -> list[str]:
    """Run ``argv``, log its merged output, feed each line to ``on_line``; return the last
    ``keep`` lines (all with None). ``quiet(line)`` true keeps a line out of the log.

    Raises HandlerError (transient: retried) with the exit code and the output's last error line
    (``summarize_failure``; the whole output is in the job log) when it fails, or the error class
    ``classify(code, tail)`` returns (the input is at fault: a permanent error, not retried).
    """
    args = [str(a) for a in argv]
    ctx.log.info("running: %s", " ".join(args))
    tail: deque[str] = deque(maxlen=keep)
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd, env=env,
        preexec_fn=preexec,
    )
    assert proc.stdout is not None
    try:
        for line in _lines(proc.stdout):  # type: ignore[attr-defined]
            tail.append(line)
            if quiet is None or not quiet(line):
                ctx.log.info("%s: %s", Path(args[0]).name, line)
            if on_line is not None:
                on_line(line)
    finally:
        proc.stdout.close()
        code = proc.wait()
    if code != 0:
        if quiet is not None:  # lines kept out of the log while it ran explain the failure: log them now
            for line in tail:
                if quiet(line):
                    ctx.log.info("%s: %s", Path(args[0]).name, line)
        message = summarize_failure(Path(args[0]).name, code, list(tail))
        kind = classify(code, list(tail)) if classify is not None else None
        if kind is not None:
            raise kind(message)
        raise HandlerError(message)
    return list(tail)
