"""Rendering of one job for ``sc job show``."""

from __future__ import annotations

from typing import Any

from sccli.cli.context import Application, cell

SUMMARY_FIELDS = (
    "job_id", "job_type", "status", "dataset_uuid", "priority", "attempts", "max_attempts",
    "timeout_minutes", "created_at", "started_at", "completed_at", "run_after", "worker_id",
    "host", "pid", "heartbeat_at", "progress_percentage", "progress_message", "parent_job_id",
    "created_by", "migration_id", "error",
)


def render_job(a: Application, job: dict[str, Any], events: list[dict[str, Any]], reasons: list[str]) -> None:
    a.print_record({k: job.get(k) for k in SUMMARY_FIELDS if job.get(k) not in (None, "", [])}, title=f"Job {job['job_id']}")
    out = a.console
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
