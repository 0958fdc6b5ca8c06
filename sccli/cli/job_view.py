"""``sc job show`` and ``sc job list``: their work and rendering, typer-free (the fast lane
:mod:`sccli.cli.fast` runs them without Typer; :mod:`sccli.cli.job` declares their options)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sccli.cli.context import Application, envelope
from sccli.cli.render import OutputFormat, cell
from sccli.domain import JobStatus
from sccli.errors import InvalidInput

LIST_COLUMNS = [
    "job_id", "job_type", "status", "priority", "attempts", "dataset_uuid", "created_at", "progress_percentage",
]
LIST_HEADERS = ["JOB ID", "TYPE", "STATUS", "PRIO", "TRIES", "DATASET", "CREATED", "%"]

SUMMARY_FIELDS = (
    "job_id", "job_type", "status", "dataset_uuid", "priority", "attempts", "max_attempts",
    "timeout_minutes", "created_at", "started_at", "completed_at", "run_after", "worker_id",
    "host", "pid", "heartbeat_at", "progress_percentage", "progress_message", "parent_job_id",
    "created_by", "migration_id", "error",
)


BAR_WIDTH = 30


def progress_bar(percent: float | None, message: str | None = None, width: int = BAR_WIDTH) -> str:
    """``[█████░░░░░]  50%  message`` (text, so it reads the same in a pipe)."""
    share = max(0.0, min(100.0, float(percent or 0))) / 100
    filled = round(width * share)
    return f"[{'█' * filled}{'░' * (width - filled)}] {share:4.0%}" + (f"  {message}" if message else "")


def _log_refusal(log_path: str) -> str | None:
    """"" for a readable log file, why it is refused (a link, a special file), None when absent."""
    from pathlib import Path

    from sccli.joblog_files import UnsafeLogFile, open_name_for_read

    try:
        fh = open_name_for_read(Path(log_path).parent, Path(log_path).name)
    except UnsafeLogFile as exc:
        return str(exc)
    except OSError:
        return None
    if fh is None:
        return None
    fh.close()
    return ""


def render_job(
    a: Application, job: dict[str, Any], events: list[dict[str, Any]], reasons: list[str], log_path: str | None = None
) -> None:
    a.print_record(
        {k: job.get(k) for k in SUMMARY_FIELDS if job.get(k) not in (None, "", [])}, title=f"Job {job['job_id']}"
    )
    if job.get("status") == JobStatus.RUNNING:
        a.say()
        a.say("Progress: " + progress_bar(job.get("progress_percentage"), job.get("progress_message")))
    if log_path:
        refused = _log_refusal(log_path)
        if refused == "":
            where = ""
        elif refused:
            where = f" (refused: {refused})"
        elif job.get("host"):
            where = f" (not on this host; it ran on {job['host']}: `sc job logs` shows the lines kept in the store)"
        else:
            where = " (not written yet)"
        a.say(f"Log: {log_path}{where}")
    a.say()
    a.say("Why:", style="bold")
    for reason in reasons:
        a.say(f"  - {reason}")
    if job.get("parameters"):
        a.say()
        a.say("Parameters:", style="bold")
        a.say("  " + cell(job["parameters"]))
    if job.get("result"):
        a.say()
        a.say("Result:", style="bold")
        a.say("  " + cell(job["result"]))
    if job.get("errors"):
        a.print_table(job["errors"], ["attempt", "at", "kind", "worker", "error"], title="Errors")
    if job.get("resources"):
        from sccli.usage import ATTEMPT_COLUMNS, attempt_rows

        a.say()
        a.say("Resources (per attempt: CPU of its process tree, peak memory, bytes read and written):", style="bold")
        a.print_table(attempt_rows(job), ATTEMPT_COLUMNS)
    if events:
        rows = [{**e, "what": e.get("entity", "job") + (" (refused)" if e.get("refused") else "")} for e in events]
        a.print_table(rows, ["at", "what", "from", "to", "actor", "reason"], title="History")


def job_show(a: Application, job_id: str, as_json: bool = False) -> None:
    """``sc job show``: the job, its events, why it is not running, its log file."""
    from sccli.jobids import job_detail

    # the store, not a JobQueue: a read needs no plugin lookup; the id may be a unique prefix
    detail = job_detail(a.store, job_id, a.settings.stale_after_seconds)
    a.emit(detail, lambda shown: _print_job(a, shown), as_json=as_json)


def _print_job(a: Application, detail: dict[str, Any]) -> None:
    from sccli.operations import job_log_path

    events, reasons = detail.pop("events"), detail.pop("explanation")
    render_job(a, detail, events, reasons, log_path=str(job_log_path(detail, a.settings)))


def job_list(
    a: Application,
    status: Sequence[JobStatus] | None = None,
    job_type: Sequence[str] | None = None,
    dataset: str | None = None,
    limit: int = 50,
    show_all: bool = False,
    as_json: bool = False,
    fmt: OutputFormat | None = None,
    *,
    wide: bool = False,
    param: Sequence[str] | None = None,
    user: str | None = None,
    dataset_name: str | None = None,
) -> None:
    """``sc job list``: jobs, newest first; says on stderr when the list is cut at ``limit``."""
    a.wide = wide
    from sccli.domain import is_builtin_type, is_valid_uuid
    from sccli.job_search import JobSearch, parse_param_filter, search_jobs
    from sccli.store.base import JobQuery

    if dataset is not None and not is_valid_uuid(dataset):
        raise InvalidInput(f"--dataset: malformed dataset UUID {dataset[:60]!r} (expected 8-4-4-4-12 hex)")
    for name in job_type or []:
        if not is_builtin_type(name):  # only a type that is not built in needs the plugins looked up
            a.queue().check_type(name)
    query = JobQuery(
        status=[s.value for s in status] if status else None, job_type=list(job_type) if job_type else None,
        dataset_uuid=dataset,
    )
    search = JobSearch(
        query, [parse_param_filter(p) for p in param or []], _text(user, "--user"),
        _text(dataset_name, "--dataset-name"),
    )
    page = search_jobs(a.store, search, limit=None if show_all else limit)
    jobs = page.items
    for notice in page.notices:
        a.info(notice)
    if not show_all:
        say_cut(a, len(jobs), page.total)
    listing = envelope(jobs, page.total, page.limit, page.offset)
    a.emit(listing, lambda listed: _print_jobs(a, listed["items"], fmt), as_json=as_json)


def _print_jobs(a: Application, jobs: list[dict[str, Any]], fmt: Any) -> None:
    columns, headers = LIST_COLUMNS, LIST_HEADERS
    if any(j.get("status") == JobStatus.SCHEDULED for j in jobs):  # when each waiting job starts
        columns, headers = [*LIST_COLUMNS, "run_after"], [*LIST_HEADERS, "STARTS"]
    a.print_table(jobs, columns, fmt=fmt, headers=headers, title="Jobs")


def _text(value: str | None, option: str) -> str | None:
    """A search text: refused when empty (it would match everything, or nothing, silently)."""
    if value is not None and not value.strip():
        raise InvalidInput(f"{option} needs a non-empty value")
    return value


def say_cut(a: Application, shown: int, total: int) -> None:
    """Tell (on stderr) that a listing was cut at its limit."""
    if total > shown:
        a.info(f"showing {shown} of {total}; --limit N or --all for more")
