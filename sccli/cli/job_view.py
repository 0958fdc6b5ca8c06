"""Rendering of one job for ``sc job show``."""

from __future__ import annotations

from typing import Any

from sccli.cli.context import Application
from sccli.cli.render import cell
from sccli.domain import JobStatus

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


def render_job(a: Application, job: dict[str, Any], events: list[dict[str, Any]], reasons: list[str], log_path: str | None = None) -> None:
    a.print_record({k: job.get(k) for k in SUMMARY_FIELDS if job.get(k) not in (None, "", [])}, title=f"Job {job['job_id']}")
    out = a.console
    if job.get("status") == JobStatus.RUNNING:
        out.print()
        out.print("Progress: " + progress_bar(job.get("progress_percentage"), job.get("progress_message")), markup=False)
    if log_path:
        from pathlib import Path

        if Path(log_path).is_file():
            where = ""
        elif job.get("host"):
            where = f" (not on this host; it ran on {job['host']}: `sc job logs` shows the lines kept in the store)"
        else:
            where = " (not written yet)"
        out.print(f"Log: {log_path}{where}", markup=False)
    out.print()
    out.print("Why:", style="bold")
    for reason in reasons:
        out.print(f"  - {reason}", markup=False)
    if job.get("parameters"):
        out.print()
        out.print("Parameters:", style="bold")
        out.print("  " + cell(job["parameters"]), markup=False)
    if job.get("result"):
        out.print()
        out.print("Result:", style="bold")
        out.print("  " + cell(job["result"]), markup=False)
    if job.get("errors"):
        a.print_table(job["errors"], ["attempt", "at", "kind", "worker", "error"], title="Errors")
    if events:
        rows = [{**e, "what": e.get("entity", "job") + (" (refused)" if e.get("refused") else "")} for e in events]
        a.print_table(rows, ["at", "what", "from", "to", "actor", "reason"], title="History")
