"""``sc queue``: pause and resume claiming by job type (every service on every host), and status."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from sccli.cli import complete
from sccli.cli.context import Application
from sccli.cli.options import FormatOpt, JsonOpt

app = typer.Typer(help="Pause and resume the queue by job type (every service honours it), and show what is paused.", no_args_is_help=True)

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
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why (shown by status, sc job show and the monitor).", show_default=False)] = None,
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


@app.command("status")
def status(ctx: typer.Context, as_json: JsonOpt = False, fmt: FormatOpt = None) -> None:
    """What is paused (type, reason, who, since) and how many ready jobs wait behind each pause.

    \b
    Example: sc queue status --json
    """
    a: Application = ctx.obj
    from sccli.pause import paused_rows

    rows = paused_rows(a.store)
    a.emit(rows, lambda _: _print_paused(a, rows, fmt), as_json=as_json)


def _print_paused(a: Application, rows: list[dict[str, Any]], fmt: FormatOpt) -> None:
    if not rows:
        a.info("nothing is paused: services claim every type they serve")
    else:
        headers = ["TYPE", "REASON", "BY", "SINCE", "READY JOBS HELD"]
        a.print_table(rows, ["job_type", "reason", "actor", "at", "ready"], fmt=fmt, headers=headers, title="Paused")
