"""``sc queue``: pause and resume claiming by job type, fleet-wide limits (every service on every
host honours them at its next poll), and status."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from sccli.cli import complete
from sccli.cli.context import Application
from sccli.cli.options import FormatOpt, JsonOpt

app = typer.Typer(
    help="Pause, resume and limit the queue by job type (every service honours it), and show what is in force.",
    no_args_is_help=True,
)

TypesArg = Annotated[Optional[list[str]], typer.Argument(
    metavar="[TYPE]...", help="Job types (none: every type).", show_default=False, autocompletion=complete.job_types)]


def _check_types(a: Application, types: list[str] | None) -> list[str] | None:
    queue = a.queue()
    for job_type in types or []:
        queue.check_type(job_type)
    return list(dict.fromkeys(types)) if types else None


def _actor() -> str:
    from sccli.queue import default_actor

    return default_actor()


@app.command("pause")
def pause(
    ctx: typer.Context,
    types: TypesArg = None,
    reason: Annotated[
        Optional[str],
        typer.Option("--reason", help="Why (shown by status, sc job show and the monitor).", show_default=False),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Stop every service from claiming jobs of these types (all types without TYPE); running jobs finish.

    \b
    Example: sc queue pause google_sync --reason "Drive quota exceeded"
    """
    from sccli.pause import pause_types

    a: Application = ctx.obj
    chosen = _check_types(a, types)
    paused = pause_types(a.store, chosen, reason, _actor())
    what = ", ".join(chosen) if chosen else "every job type"
    said = (f"paused {what}: services claim none of it from their next poll; "
            "running jobs finish (sc queue resume to undo)")
    a.emit(paused, lambda _: a.result(said), as_json=as_json)


@app.command("resume")
def resume(ctx: typer.Context, types: TypesArg = None, as_json: JsonOpt = False) -> None:
    """Let services claim these types again (without TYPE: everything paused).

    \b
    Example: sc queue resume google_sync
    """
    from sccli.pause import paused_types, resume_types

    a: Application = ctx.obj
    chosen = _check_types(a, types)
    resumed = resume_types(a.store, chosen, _actor())
    still = paused_types(a.store)
    report = {"resumed": resumed, "paused": still}
    a.emit(report, lambda _: _print_resumed(a, resumed, still, bool(chosen)), as_json=as_json)


def _print_resumed(a: Application, resumed: list[str], still: dict[str, Any], chosen: bool) -> None:
    from sccli.pause import ALL_TYPES

    nothing = "none of these types was paused" if chosen else "nothing was paused"
    a.result(f"resumed {', '.join(resumed)}" if resumed else f"nothing to resume: {nothing}")
    if ALL_TYPES in still:
        a.warn("every job type is still paused (sc queue resume without a type lifts it)")


_UNSETTABLE = {"max-running": "max_running", "rate": "rate", "timeout": "timeout_minutes",
               "max-attempts": "max_attempts", "priority": "priority", "memory-limit-mb": "memory_limit_mb"}


def _opt(name: str, text: str, **extra: Any) -> Any:
    return typer.Option(name, help=text, show_default=False, **extra)


MaxRunningOpt = Annotated[Optional[int], _opt("--max-running", "At most this many running at once, fleet-wide.", min=1)]
RateOpt = Annotated[Optional[str], _opt("--rate", "At most N starts per period, fleet-wide: 60/h, 5/s, 100/10m.")]
TimeoutOpt = Annotated[Optional[str], _opt("--timeout", "Timeout of new jobs without their own: 30m, 2h.")]
AttemptsOpt = Annotated[Optional[int], _opt("--max-attempts", "Attempts of new jobs without their own.", min=1)]
MemoryOpt = Annotated[Optional[int], _opt("--memory-limit-mb", "Memory limit of each job's process tree, MB, on every "
                                           "host (before the settings' memory_limit_mb*).", min=1)]
PriorityOpt = Annotated[Optional[str], _opt("--priority", "Priority of new jobs without their own: 1-3, high, low.")]
UnsetOpt = Annotated[Optional[list[str]], _opt("--unset", f"Remove one control: {', '.join(_UNSETTABLE)} (repeatable).",
                                               metavar="FIELD")]
ReasonOpt = Annotated[Optional[str], _opt("--reason", "Why (kept in the audit record).")]


@app.command("set")
def set_limits(
    ctx: typer.Context,
    job_type: Annotated[str, typer.Argument(metavar="TYPE", help="The job type to limit.", show_default=False)],
    max_running: MaxRunningOpt = None,
    rate: RateOpt = None,
    timeout: TimeoutOpt = None,
    max_attempts: AttemptsOpt = None,
    priority: PriorityOpt = None,
    memory_limit_mb: MemoryOpt = None,
    unset: UnsetOpt = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove every limit and override of TYPE.")] = False,
    reason: ReasonOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set fleet-wide limits and defaults of a job type; every service applies them at its next poll.

    \b
    Precedence for a new job: its own value > these overrides > the plugin's DEFAULTS > the type table.
    Example: sc queue set google_sync --max-running 4 --rate 60/h --reason "Drive API quota"
    Example: sc queue set file_upload --timeout 30m --max-attempts 5 --priority 1
    Example: sc queue set dataset_conversion --memory-limit-mb 2048   (a running job over it fails, kind memory)
    Example: sc queue set google_sync --unset rate      (sc queue set google_sync --clear: remove all)
    """
    from sccli.controls import parse_minutes, parse_rate
    from sccli.controls import set_limits as write
    from sccli.errors import InvalidInput

    a: Application = ctx.obj
    a.queue().check_type(job_type)
    bad = [f for f in unset or [] if f not in _UNSETTABLE]
    if bad:
        raise InvalidInput(f"--unset {bad[0]}: not a control (choose from {', '.join(_UNSETTABLE)})")
    given = {"max_running": max_running, "rate": parse_rate(rate) if rate is not None else None,
             "timeout_minutes": parse_minutes(timeout) if timeout is not None else None,
             "max_attempts": max_attempts, "priority": priority, "memory_limit_mb": memory_limit_mb}
    changes = {k: v for k, v in given.items() if v is not None}
    if not changes and not unset and not clear:
        raise InvalidInput("nothing to set: give --max-running, --rate, --timeout, --max-attempts, --priority, "
                           "--memory-limit-mb, --unset or --clear")
    cleared = ["all"] if clear else [_UNSETTABLE[f] for f in unset or []]
    after = write(a.store_for_write, job_type, changes, cleared, _actor(), reason)
    row = after.as_row() if after else {"job_type": job_type}
    shown = ", ".join(f"{k}={v}" for k, v in row.items() if k != "job_type" and v is not None)
    a.emit(row, lambda _: a.result(f"{job_type}: {shown or 'no limits'} (every service applies it at its next poll)"),
           as_json=as_json)


@app.command("status")
def status(ctx: typer.Context, as_json: JsonOpt = False, fmt: FormatOpt = None) -> None:
    """What is paused (type, reason, who, since, ready jobs held) and the fleet-wide limits in force.

    \b
    Example: sc queue status --json
    """
    a: Application = ctx.obj
    from sccli.pause import paused_rows

    rows = paused_rows(a.store)
    from sccli.monitor.coverage import type_limit_rows

    limits = type_limit_rows(a.store)
    a.emit({"paused": rows, "limits": limits}, lambda _: _print_paused(a, rows, limits, fmt), as_json=as_json)


def _print_paused(a: Application, rows: list[dict[str, Any]], limits: list[dict[str, Any]], fmt: FormatOpt) -> None:
    if not rows:
        a.info("nothing is paused: services claim every type they serve")
    else:
        headers = ["TYPE", "REASON", "BY", "SINCE", "READY JOBS HELD"]
        a.print_table(rows, ["job_type", "reason", "actor", "at", "ready"], fmt=fmt, headers=headers, title="Paused")
    if limits:
        columns = ["job_type", "max_running", "rate", "priority", "timeout_minutes", "max_attempts", "memory_limit_mb",
                   "held"]
        headers = ["TYPE", "MAX RUNNING", "RATE", "PRIORITY", "TIMEOUT (MIN)", "ATTEMPTS", "MEMORY (MB)", "HELD NOW"]
        a.print_table(limits, columns, fmt=fmt, headers=headers, title="Limits (sc queue set)")
