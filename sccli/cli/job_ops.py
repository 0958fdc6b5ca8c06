"""``sc job`` operator commands: cancel and retry (by id or by filter), run-now, purge (logs and wait: job_watch).

The work is done by :mod:`sccli.operations`; these functions parse, confirm and render.
They are registered on the ``sc job`` app by :mod:`sccli.cli.job`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from typing import Annotated, Any, Optional

import typer

from sccli.cli import complete
from sccli.cli.confirm import DryRunOpt, YesOpt, confirm_write
from sccli.cli.context import Application
from sccli.cli.options import JsonOpt
from sccli.domain import JobStatus
from sccli.errors import EXIT_CHECK_FAILED, InvalidInput


class CancellableStatus(str, Enum):
    """The statuses ``cancel`` selects from."""

    pending = JobStatus.PENDING.value
    running = JobStatus.RUNNING.value
    scheduled = JobStatus.SCHEDULED.value


class RetryableStatus(str, Enum):
    """The statuses ``retry`` selects from."""

    failed = JobStatus.FAILED.value
    cancelled = JobStatus.CANCELLED.value


CancelStatusOpt = Annotated[
    Optional[list[CancellableStatus]],
    typer.Option(
        "--status", "-s", help="Select jobs in this status (repeatable; default all three).", show_default=False
    ),
]
RetryStatusOpt = Annotated[
    Optional[list[RetryableStatus]],
    typer.Option("--status", "-s", help="Select jobs in this status (repeatable; default both).", show_default=False),
]
TypeFilterOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--type", "-t", help="Select jobs of this type (repeatable).", show_default=False,
        autocompletion=complete.job_types,
    ),
]
DatasetFilterOpt = Annotated[
    Optional[str],
    typer.Option(
        "--dataset", "-d", help="Select jobs of this dataset UUID.", show_default=False,
        autocompletion=complete.dataset_uuids,
    ),
]
OlderThanOpt = Annotated[
    Optional[str],
    typer.Option("--older-than", help="Select jobs created longer ago than this: 30m, 2h, 7d.", show_default=False),
]
IdsArg = Annotated[
    Optional[list[str]],
    typer.Argument(
        metavar="[ID]...", help="Job IDs (or select with the filters instead).", show_default=False,
        autocompletion=complete.job_ids,
    ),
]


def _select_ids(
    a: Application, ids: Sequence[str], statuses: Sequence[Enum] | None, types: Sequence[str] | None,
    dataset: str | None, older_than: str | None, allowed: type[Enum],
) -> tuple[list[str], bool]:
    """The job ids named, or selected by the filters (``True`` when selected)."""
    from sccli import operations as ops

    filtered = bool(statuses or types or dataset or older_than)
    if ids and filtered:
        raise InvalidInput("give job IDs or filters (--status, --type, --dataset, --older-than), not both")
    if not ids and not filtered:
        raise InvalidInput("name job IDs, or select jobs with --status, --type, --dataset or --older-than")
    if ids:
        from sccli.jobids import resolve_job_ids

        return resolve_job_ids(a.store, list(ids)), False
    wanted = [str(s.value) for s in statuses or list(allowed)]
    try:
        seconds = ops.parse_duration(older_than) if older_than else None
    except InvalidInput as exc:
        raise InvalidInput(f"--older-than: {exc}") from None
    jobs = ops.select_jobs(a.queue(), status=wanted, job_type=types, dataset=dataset, older_than_seconds=seconds)
    return [j["job_id"] for j in jobs], True


def _run_bulk(
    a: Application, verb: str, job_ids: list[str], selected: bool, yes: bool, dry_run: bool, as_json: bool,
    action: Callable[[list[str]], dict[str, Any]],
) -> None:
    if dry_run:
        a.emit({"dry_run": True, "would": verb, "job_ids": job_ids}, lambda plan: _print_plan(a, plan), as_json=as_json)
        return
    if selected and job_ids:
        confirm_write(a, f"{verb.capitalize()} {len(job_ids)} job(s) in {a.store.display_url}?", yes)
    result = action(job_ids)
    a.emit(result, lambda done: _print_outcome(a, verb, done), as_json=as_json)
    if result["refused"]:
        raise typer.Exit(EXIT_CHECK_FAILED)


def _print_plan(a: Application, plan: dict[str, Any]) -> None:
    """A dry run for people: the chosen ids on stdout, what would happen on stderr."""
    for job_id in plan["job_ids"]:
        a.result(job_id)
    a.info(f"would {plan['would']} {len(plan['job_ids'])} job(s) (dry run: nothing changed)")


def _print_outcome(a: Application, verb: str, result: dict[str, Any]) -> None:
    for refused in result["refused"]:
        a.notice(f"refused {refused['job_id']}: {refused['reason']}")
    a.result(_summary(verb, result))


def _summary(verb: str, result: dict[str, Any]) -> str:
    done = len(result["done"])
    line = f"{verb}: {done} job(s) done"
    if result.get("stopping"):
        line += f" ({len(result['stopping'])} running: cancel requested, their services stop them within 2 s)"
    if result["refused"]:
        line += f", {len(result['refused'])} refused"
    return line


def cancel(
    ctx: typer.Context,
    job_ids: IdsArg = None,
    reason: Annotated[
        Optional[str], typer.Option("--reason", help="Why (stored as the job's error and the dataset's error_message).")
    ] = None,
    status: CancelStatusOpt = None,
    job_type: TypeFilterOpt = None,
    dataset: DatasetFilterOpt = None,
    older_than: OlderThanOpt = None,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Cancel pending or scheduled jobs now, or ask the services to stop running ones.

    Name the jobs, or select them with --status, --type,
    --dataset and --older-than: the selection is counted and confirmed (--yes in scripts).

    \b
    Example: sc job cancel --type google_sync --older-than 2h --yes
    """
    from sccli import operations as ops

    a: Application = ctx.obj
    ids, selected = _select_ids(a, job_ids or [], status, job_type, dataset, older_than, CancellableStatus)
    queue = a.queue()
    if len(ids) == 1 and not selected and not dry_run:  # one named job: its own error and exit code
        job = queue.cancel(ids[0], reason)
        a.emit(job, lambda done: a.result(_cancelled(ids[0], done)), as_json=as_json)
        return

    def act(chosen: list[str]) -> dict[str, Any]:
        result = ops.bulk_cancel(queue, chosen, reason)
        stopping = [i for i in result["done"] if (queue.get_job(i) or {}).get("status") == JobStatus.RUNNING]
        return {**result, "stopping": stopping}

    _run_bulk(a, "cancel", ids, selected, yes, dry_run, as_json, act)


def retry(
    ctx: typer.Context,
    job_ids: IdsArg = None,
    status: RetryStatusOpt = None,
    job_type: TypeFilterOpt = None,
    dataset: DatasetFilterOpt = None,
    older_than: OlderThanOpt = None,
    later: Annotated[
        Optional[str],
        typer.Option("--in", help="Retry after this delay (30m, 2h, 1d): scheduled until then.", show_default=False),
    ] = None,
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Put failed or cancelled jobs back in the queue with fresh attempts (error history kept), now or later.

    Name the jobs, or select them with --status, --type,
    --dataset and --older-than: the selection is counted and confirmed (--yes in scripts).

    \b
    Example: sc job retry --status failed --type dataset_conversion --yes
    Example: sc job retry 2f1e0c4a-... --in 1h
    """
    from sccli import operations as ops

    a: Application = ctx.obj
    delay = ops.parse_duration(later) if later is not None else 0.0
    ids, selected = _select_ids(a, job_ids or [], status, job_type, dataset, older_than, RetryableStatus)
    queue = a.queue()
    if len(ids) == 1 and not selected and not dry_run:
        job = queue.retry(ids[0], delay_seconds=delay)
        a.emit(job, lambda done: a.result(_retried(ids[0], done, queue.store.now)), as_json=as_json)
        return
    _run_bulk(
        a, "retry", ids, selected, yes, dry_run, as_json,
        lambda chosen: ops.bulk_retry(queue, chosen, delay_seconds=delay),
    )


def run_now(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="Job ID of a scheduled job.")],
    as_json: JsonOpt = False,
) -> None:
    """Start a scheduled job now: it becomes pending, and the next free service claims it.

    \b
    Example: sc job run-now 2f1e0c4a-...
    """
    a: Application = ctx.obj
    job = a.queue().run_now(job_id)
    a.emit(job, lambda _: a.result(f"job {job_id} is pending: the next free service claims it"), as_json=as_json)


def purge(
    ctx: typer.Context,
    job_type: Annotated[
        str,
        typer.Option(
            "--type", "-t", help="Delete the pending and scheduled jobs of this type.",
            autocompletion=complete.job_types,
        ),
    ],
    yes: YesOpt = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete every pending or scheduled job of a type (running jobs are left alone); each deletion is logged
    in job_events and the datasets get the type's error status.

    \b
    Example: sc job purge --type google_sync --dry-run
    """
    from sccli import operations as ops

    a: Application = ctx.obj
    queue = a.queue()
    preview = ops.purge_pending(queue, job_type, dry_run=True)
    count = len(preview["purged"])
    if dry_run or not count:
        note = f"would purge {count} pending {job_type} job(s)" if dry_run else f"no pending {job_type} job to purge"
        a.emit(preview, lambda _: a.info(note), as_json=as_json)
        return
    confirm_write(a, f"Delete {count} pending {job_type} job(s) from {a.store.display_url}?", yes)
    result = ops.purge_pending(queue, job_type)
    a.emit(result, lambda done: a.result(_purged(job_type, done)), as_json=as_json)


def _purged(job_type: str, result: dict[str, Any]) -> str:
    skipped = f" ({len(result['skipped'])} were claimed meanwhile and left alone)" if result["skipped"] else ""
    return f"purged {len(result['purged'])} pending {job_type} job(s){skipped}"


def _cancelled(job_id: str, job: dict[str, Any]) -> str:
    if job["status"] == JobStatus.CANCELLED:
        return f"job {job_id} cancelled"
    return f"job {job_id} is running: cancel requested, its service stops it within 2 s"


def _retried(job_id: str, job: dict[str, Any], now: Callable[[], Any]) -> str:
    kept = f"attempts reset, {len(job.get('errors') or [])} earlier errors kept"
    if job["status"] == JobStatus.SCHEDULED:
        from sccli.explain import starts_in

        return f"job {job_id} is scheduled: {starts_in(job, now())} ({kept})"
    return f"job {job_id} is pending again ({kept})"
