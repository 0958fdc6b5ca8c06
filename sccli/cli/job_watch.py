"""``sc job logs`` and ``sc job wait``: following a job as it runs.

Registered on the ``sc job`` app by :mod:`sccli.cli.job`; the reads are done by :mod:`sccli.operations`.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Annotated, Any, Optional

import typer

from sccli.cli import complete
from sccli.cli.context import Application
from sccli.cli.options import JsonOpt, finite
from sccli.domain import JobStatus
from sccli.errors import EXIT_CHECK_FAILED

#: How often ``logs --follow`` looks for new lines and whether the job has ended.
FOLLOW_POLL_SECONDS = 0.2
#: How often ``wait`` re-reads the job.
WAIT_POLL_SECONDS = 0.2
#: The longest ``wait --timeout`` (a year; NaN and Infinity are refused: they waited forever).
MAX_WAIT_SECONDS = 365 * 86400


def logs(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="Job ID.", autocompletion=complete.job_ids)],
    follow: Annotated[bool, typer.Option("--follow", help="Keep printing new lines until the job ends.")] = False,
    tail: Annotated[
        int, typer.Option("--tail", min=0, help="Print the last N lines (0: none, e.g. with --follow).")
    ] = 200,
    as_json: JsonOpt = False,
) -> None:
    """Print a job's log: its log file on this host, else the last lines the service kept in the store.

    \b
    Example: sc job logs 2f1e0c4a-... --follow
    """
    from sccli import operations as ops
    from sccli.jobids import resolve_job_id

    a: Application = ctx.obj
    queue = a.queue()
    job = queue.require_job(resolve_job_id(a.store, job_id))
    job_id = job["job_id"]
    found = ops.job_log_tail(job, a.settings, tail)
    a.emit({"job_id": job_id, **found}, lambda tail_: _print_log(a, tail_), as_json=as_json)
    if follow and not as_json:
        _follow(a, job, found)


def _print_log(a: Application, found: dict[str, Any]) -> None:
    """A log's last lines for people, with a note on stderr when they come from the store."""
    if found.get("refused"):
        a.warn(f"log file refused: {found['refused']} (the last lines kept in the store follow)")
    elif found["source"] == "store":
        a.info(f"(no log file {found['path']} on this host: the last lines kept in the store)")
    for line in found["lines"]:
        a.result(line)


def _follow(a: Application, job: dict[str, Any], found: dict[str, Any]) -> None:
    """Print what is appended to the log until the job has ended (and its last lines are out)."""
    from pathlib import Path

    from sccli.operations import FINAL_STATUSES

    queue, job_id = a.queue(), job["job_id"]
    path, offset = Path(found["path"]), None
    refused = bool(found.get("refused"))
    # The store keeps a capped list: new entries are the ones after the last timestamp seen.
    last_at = _last_timestamp(job.get("logs") or [])
    if found["source"] == "file":
        offset = _print_from(a, path, -1)
    while True:
        job = queue.require_job(job_id)
        ended = job["status"] in FINAL_STATUSES
        if offset is None and not refused and _log_present(path):
            offset = 0  # the log file appeared (the job started on this host)
        if offset is not None:
            offset = _print_from(a, path, offset)
            refused = offset is None
        else:
            entries = [e for e in job.get("logs") or [] if isinstance(e, dict)]
            for entry in entries:
                if last_at is None or (entry.get("timestamp") is not None and entry["timestamp"] > last_at):
                    a.result(str(entry.get("message", "")))
            last_at = _last_timestamp(entries) or last_at
        if ended:
            a.info(f"job {job_id} {job['status']}")
            return
        sys.stdout.flush()
        time.sleep(FOLLOW_POLL_SECONDS)


def _last_timestamp(entries: list[Any]) -> Any:
    stamps = [e["timestamp"] for e in entries if isinstance(e, dict) and e.get("timestamp") is not None]
    return max(stamps) if stamps else None


def _log_present(path: Any) -> bool:
    """A log entry of that name exists (a link too: it is then refused when read, never followed)."""
    return bool(os.path.lexists(path))


def _print_from(a: Application, path: Any, offset: int) -> int | None:
    """Print the whole lines after ``offset`` (-1: none, just find the end); the new offset, or
    None when the log file is refused (a link swapped in: the store's lines are followed instead)."""
    from sccli.joblog_files import UnsafeLogFile, open_name_for_read

    try:
        fh = open_name_for_read(path.parent, path.name)
    except UnsafeLogFile as exc:
        a.warn(f"log file refused: {exc} (following the lines kept in the store)")
        return None
    except OSError:
        return offset
    if fh is None:
        return offset
    with fh:
        if offset < 0:
            return fh.seek(0, 2)
        fh.seek(offset)
        data = fh.read()
    complete = data[: data.rfind(b"\n") + 1]  # print whole lines only; the rest comes next poll
    if complete:
        sys.stdout.write(complete.decode("utf-8", errors="replace"))
    return offset + len(complete)


def wait(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="Job ID.", autocompletion=complete.job_ids)],
    timeout: Annotated[Optional[float], typer.Option(
        "--timeout", min=0, max=MAX_WAIT_SECONDS, callback=finite, help="Give up after this many seconds (exit 1).",
        show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Wait for a job to end: exit 0 when it completed, 1 when it failed or was cancelled, 1 on timeout.

    \b
    Example: sc job wait 2f1e0c4a-... --timeout 600 && echo converted
    """
    from sccli import operations as ops
    from sccli.jobids import resolve_job_id

    a: Application = ctx.obj
    job_id = resolve_job_id(a.store, job_id)
    outcome = ops.wait_for_job(a.queue(), job_id, timeout=timeout, poll=WAIT_POLL_SECONDS)
    a.emit(outcome, lambda ended: _print_wait(a, job_id, timeout, ended), as_json=as_json)
    if outcome["timed_out"] or outcome["status"] != JobStatus.COMPLETED:
        raise typer.Exit(EXIT_CHECK_FAILED)


def _print_wait(a: Application, job_id: str, timeout: float | None, outcome: dict[str, Any]) -> None:
    if outcome["timed_out"]:
        a.error(f"timed out after {timeout:g} s: job {job_id} is still {outcome['status']}")
        return
    error = outcome["job"].get("error")
    failed = f": {error}" if error and outcome["status"] != JobStatus.COMPLETED else ""
    a.result(f"job {job_id} {outcome['status']}{failed}")
