"""``sc migrate``: move legacy status-driven datasets onto the queue, validate, roll back.

A live run or rollback asks for confirmation on a terminal; without a terminal (cron, CI,
pipes) it refuses unless ``--yes`` is given, so nothing unattended writes by accident.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from sccli.cli.context import Application, envelope
from sccli.cli.options import FormatOpt, JsonOpt, finite
from sccli.errors import EXIT_BAD_INPUT, CheckFailed

if TYPE_CHECKING:
    from sccli.migration import JobMigration

app = typer.Typer(help="Migrate legacy datasets onto the job queue, validate it, roll it back.", no_args_is_help=True)

#: Runs over at least this many datasets show a progress bar (on a terminal).
PROGRESS_THRESHOLD = 500

PLAN_COLUMNS = ["dataset_uuid", "status", "job_type", "priority", "wait", "key_parameters", "problems", "outcome"]
PLAN_HEADERS = ["DATASET", "STATUS", "JOB TYPE", "PRIO", "WAIT", "KEY PARAMETERS", "PROBLEMS", "OUTCOME"]

YesOpt = Annotated[
    bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (required when not on a terminal).")
]
DatasetOpt = Annotated[Optional[str], typer.Option("--dataset-uuid", help="Only this dataset.")]


def _migration(a: Application, grace_seconds: float | None = None, batch_size: int | None = None) -> JobMigration:
    from sccli.migration import JobMigration
    from sccli.migration.run import DEFAULT_BATCH_SIZE
    from sccli.queue import default_actor

    return JobMigration(
        a.store, settings=a.settings,
        grace_seconds=a.settings.migration_grace_seconds if grace_seconds is None else grace_seconds,
        batch_size=batch_size or DEFAULT_BATCH_SIZE, actor=default_actor(),
    )


def _interactive() -> bool:
    return sys.stdin.isatty()


def confirm_write(a: Application, question: str, yes: bool) -> None:
    """Ask on a terminal; refuse (exit 2) without a terminal unless --yes."""
    if yes:
        return
    if not _interactive():
        a.abort("not on a terminal: pass --yes to confirm (or --dry-run to only look)", EXIT_BAD_INPUT)
    typer.confirm(question, abort=True, err=True)


@contextmanager
def progress_bar(a: Application, label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A Rich progress callback that shows a bar on a terminal once a run is large; None elsewhere."""
    if not a.err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=a.err, transient=True
    )
    tasks: list[Any] = []

    def update(done: int, total: int) -> None:
        if total < PROGRESS_THRESHOLD:
            return
        if not tasks:
            bar.start()
            tasks.append(bar.add_task(label, total=total))
        bar.update(tasks[0], completed=done, total=total)

    try:
        yield update
    finally:
        if tasks:
            bar.stop()


def _plan_rows(items: list[Any], grace: float, limit: int) -> list[dict[str, Any]]:
    ordered = sorted(items, key=lambda i: (not i.problems, i.action != "skip", i.dataset_uuid))
    rows = []
    for item in ordered[: limit or None]:
        keys = {k: item.parameters[k] for k in ("sensor_type", "user_email", "data_url") if k in item.parameters}
        rows.append(
            {
                "dataset_uuid": item.dataset_uuid, "status": item.status, "job_type": item.job_type,
                "priority": item.priority, "wait": f"{grace:g} s" if item.delayed and item.action == "create" else "",
                "key_parameters": ", ".join(f"{k}={v}" for k, v in keys.items()), "problems": "; ".join(item.problems),
                "outcome": item.reason or (f"job {item.job_id}" if item.job_id else "job planned"),
            }
        )
    return rows


def _print_summary(a: Application, report: Any) -> None:
    verb = "would create" if report.dry_run else "created"
    kinds = ", ".join(f"{t} {n}" for t, n in sorted(report.by_job_type.items())) or "none"
    dry = " (dry run: nothing written)" if report.dry_run else ""
    lines = [
        f"Migration {report.migration_id}{dry}: {report.examined} datasets examined, {verb} "
        f"{report.created} jobs ({kinds})."
    ]
    if report.delayed:
        lines.append(
            f"{report.delayed} dataset(s) the old service was working on (syncing, converting, uploading): their jobs "
            f"wait {report.grace_seconds:g} s."
        )
    if report.with_problems:
        verb = "would get" if report.dry_run else "got"
        lines.append(
            f"{report.with_problems} dataset(s) with problems (listed first) {verb} no job: fix them, then run again "
            "(sc migrate validate lists them as blocked)."
        )
    if report.skipped:
        lines.append(f"{report.skipped} dataset(s) skipped (already have an active job, or see OUTCOME).")
    if report.not_migrated:
        lines.append(
            "Not migrated (need no job): " + ", ".join(f"{s} {n}" for s, n in report.not_migrated.items()) + "."
        )
    for text in [*lines, *report.notes]:
        a.result(text)


@app.command("run")
def run(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; write nothing.")] = False,
    dataset_uuid: DatasetOpt = None,
    yes: YesOpt = False,
    grace_seconds: Annotated[
        Optional[float],
        typer.Option(
            "--grace-seconds",
            min=0,
            max=30 * 86400,
            callback=finite,
            help=(
                "Seconds the jobs of datasets the old service was busy with wait (default: setting "
                "migration_grace_seconds)."
            ),
        ),
    ] = None,
    skip_problems: Annotated[
        bool,
        typer.Option(
            "--skip-problems",
            help="The default, kept for compatibility: datasets with problems are always listed and get no job.",
        ),
    ] = True,
    batch_size: Annotated[
        Optional[int],
        typer.Option("--batch-size", min=1, max=10000, help="Datasets per batched read and write (default 5000)."),
    ] = None,
    show: Annotated[
        int, typer.Option("--show", min=0, help="Rows of the plan to print, problems first (0: all).")
    ] = 50,
    as_json: JsonOpt = False,
    fmt: FormatOpt = None,
) -> None:
    """Create jobs for legacy datasets that need work and have no active job.

    \b
    Example: sc migrate run --dry-run
    """
    a: Application = ctx.obj
    migration = _migration(a, grace_seconds, batch_size)
    if not dry_run:
        confirm_write(a, f"Create jobs for the legacy datasets that need them in {a.store.display_url}?", yes)
    with progress_bar(a, "migrating") as progress:
        detail = dry_run or as_json or dataset_uuid is not None
        report = migration.run(
            dry_run=dry_run, dataset_uuid=dataset_uuid, skip_problems=skip_problems, progress=progress, detail=detail
        )
    shown = [i for i in report.items if dry_run or dataset_uuid or i.needs_attention]
    title = "Plan" if dry_run else "Datasets to look at"
    a.emit(report.as_dict(), lambda _: _print_run(a, report, shown, show, fmt, title), as_json=as_json)


def _print_run(a: Application, report: Any, shown: list[Any], show: int, fmt: FormatOpt, title: str) -> None:
    if shown:
        rows = _plan_rows(shown, report.grace_seconds, show)
        a.print_table(rows, PLAN_COLUMNS, fmt=fmt, headers=PLAN_HEADERS, title=title)
    _print_summary(a, report)
    if show and len(shown) > show:
        a.result(f"(showing {show} of {len(shown)} rows, problems first; --show 0 prints all, --json everything)")


@app.command("validate")
def validate(ctx: typer.Context, as_json: JsonOpt = False, fmt: FormatOpt = None) -> None:
    """Check that jobs and datasets agree; exit 1 with each finding when they do not.

    \b
    Example: sc migrate validate --json
    """
    a: Application = ctx.obj
    with progress_bar(a, "validating") as progress:
        findings = _migration(a).validate(progress)
    rows = [f.as_dict() for f in findings]
    a.emit({"valid": not findings, "findings": rows}, lambda _: _print_findings(a, rows, fmt), as_json=as_json)
    if findings:
        raise CheckFailed(f"migration validation found {len(findings)} problem(s)")


def _print_findings(a: Application, rows: list[dict[str, Any]], fmt: FormatOpt) -> None:
    if rows:
        headers = ["CHECK", "DATASET", "JOB", "FINDING"]
        a.print_table(rows, ["check", "dataset_uuid", "job_id", "message"], fmt=fmt, headers=headers, title="Findings")
    else:
        a.result("valid: every dataset that needs work has exactly one matching active job, "
                 "no job points to a missing dataset, indexes are in place")


def _print_rollback(a: Application, report: Any, dry_run: bool, fmt: FormatOpt) -> None:
    if report.not_undone:
        headers = ["DATASET", "JOB", "MIGRATION", "NOT UNDONE"]
        columns = ["dataset_uuid", "job_id", "migration_id", "reason"]
        a.print_table(report.not_undone, columns, fmt=fmt, headers=headers, title="Not undone")
    verb = "would remove" if dry_run else "removed"
    restored = "to restore" if dry_run else "restored"
    a.result(f"{report.examined} ledger entries: {verb} {report.removed} unstarted jobs, "
             f"{report.restored} statuses {restored}, {report.already_gone} jobs already gone, "
             f"{len(report.not_undone)} not undone.")


@app.command("rollback")
def rollback(
    ctx: typer.Context,
    migration_id: Annotated[
        Optional[str], typer.Option("--migration", help="Only this migration (see sc migrate list).")
    ] = None,
    dataset_uuid: DatasetOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be undone; write nothing.")] = False,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
    fmt: FormatOpt = None,
) -> None:
    """Remove unstarted jobs that migrations created and restore dataset statuses.

    \b
    Example: sc migrate rollback --migration mig-20260301T120000-abc123 --dry-run
    """
    a: Application = ctx.obj
    migration = _migration(a)
    if not dry_run:
        scope = f"migration {migration_id}" if migration_id else "every migration"
        confirm_write(
            a, f"Roll back {scope}{f' for dataset {dataset_uuid}' if dataset_uuid else ''} in {a.store.display_url}?",
            yes,
        )
    with progress_bar(a, "rolling back") as progress:
        report = migration.rollback(
            migration_id=migration_id, dataset_uuid=dataset_uuid, dry_run=dry_run, progress=progress
        )
    a.emit(report.as_dict(), lambda _: _print_rollback(a, report, dry_run, fmt), as_json=as_json)
    if report.not_undone and not dry_run:
        raise CheckFailed(f"{len(report.not_undone)} item(s) could not be undone (listed above)")


@app.command("list")
def list_migrations(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=100000, help="At most this many, newest first.")
    ] = 20,
    as_json: JsonOpt = False,
    fmt: FormatOpt = None,
) -> None:
    """List migration runs recorded in the job_migrations ledger.

    \b
    Example: sc migrate list --limit 5
    """
    a: Application = ctx.obj
    rows = _migration(a).migrations(limit)
    a.emit(envelope(rows, limit=limit), lambda listed: _print_migrations(a, listed["items"], fmt), as_json=as_json)


def _print_migrations(a: Application, rows: list[dict[str, Any]], fmt: FormatOpt) -> None:
    columns = ["migration_id", "status", "started_at", "actor", "examined", "jobs_created", "delayed", "with_problems"]
    headers = ["MIGRATION", "STATUS", "STARTED", "BY", "EXAMINED", "CREATED", "WAITING", "PROBLEMS"]
    a.print_table(rows, columns, fmt=fmt, headers=headers, title="Migrations")
