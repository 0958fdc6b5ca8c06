"""``sc schedule``: recurring jobs from cron expressions, fired by whichever service is running."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from sccli.cli import complete
from sccli.cli.context import Application, envelope
from sccli.cli.options import FormatOpt, JsonOpt

app = typer.Typer(
    help="Recurring jobs: add cron schedules (any running service fires them), list, pause, resume, run now.",
    no_args_is_help=True,
    epilog=(
        "\b\nExamples:\n"
        '  sc schedule add nightly-backup --type backup_creation --cron "0 3 * * *" --timezone Europe/Rome\n'
        "  sc schedule list\n  sc schedule run-now nightly-backup\n  sc schedule pause nightly-backup\n"
        "Fire times, daylight saving and catch-up: docs/schedules.md"
    ),
)

NameArg = Annotated[str, typer.Argument(help="Schedule name (or id).", autocompletion=complete.schedule_names)]
_COLUMNS = [
    "name",
    "job_type",
    "cron",
    "timezone",
    "paused",
    "next_run_at",
    "last_run_at",
    "last_outcome",
    "last_job_status",
]
_HEADERS = ["NAME", "TYPE", "CRON", "TIMEZONE", "PAUSED", "NEXT FIRE", "LAST FIRE", "LAST OUTCOME", "LAST JOB"]


def _actor() -> str:
    from sccli.queue import default_actor

    return default_actor()


def _row(a: Application, doc: dict[str, Any]) -> dict[str, Any]:
    from sccli.schedules import describe

    row = describe(a.store, doc)
    outcome = row.get("last_outcome") or {}
    row["last_outcome"] = outcome.get("outcome") if outcome else None
    return row


@app.command("add")
def add(
    ctx: typer.Context,
    name: NameArg,
    job_type: Annotated[
        str, typer.Option("--type", "-t", help="Job type of the jobs it creates.", autocompletion=complete.job_types)
    ],
    cron: Annotated[
        str, typer.Option("--cron", help='Five fields "minute hour day month weekday", or @daily, @hourly...')
    ],
    dataset: Annotated[
        Optional[str], typer.Option("--dataset", "-d", help="Dataset UUID of its jobs (none: the schedule's own).")
    ] = None,
    timezone: Annotated[str, typer.Option("--timezone", help="IANA timezone the cron reads in.")] = "UTC",
    param: Annotated[
        Optional[list[str]],
        typer.Option("--param", "-p", help="Parameter key=value (repeatable; JSON values allowed)."),
    ] = None,
    priority: Annotated[
        Optional[str], typer.Option("--priority", help="1-3 or high/normal/low (default from the job type).")
    ] = None,
    catch_up: Annotated[
        str, typer.Option("--catch-up", help="After downtime: latest (fire once) or none (skip missed times).")
    ] = "latest",
    as_json: JsonOpt = False,
) -> None:
    """Add a schedule; its first fire is the next time its cron matches.

    \b
    More: sc schedule add drive-resync --type google_sync --dataset UUID --cron "*/30 8-18 * * mon-fri" --catch-up none
    Example: sc schedule add nightly-backup --type backup_creation --cron "0 3 * * *" --timezone Europe/Rome
    """
    from sccli.cli.job import collect_parameters
    from sccli.schedules import ScheduleSpec, add_schedule

    a: Application = ctx.obj
    spec = ScheduleSpec(
        name=name,
        job_type=job_type,
        cron=cron,
        dataset_uuid=dataset,
        parameters=collect_parameters(None, param or []),
        priority=priority,
        timezone=timezone,
        catch_up=catch_up,
    )
    doc = add_schedule(a.queue(write=True), spec, actor=_actor(), allow_every=a.settings.schedule_intervals)
    a.emit(doc, lambda added: a.say(_added(added)), as_json=as_json)


def _added(doc: dict[str, Any]) -> str:
    when = doc["next_run_at"].isoformat()
    return f"schedule {doc['name']} added: next fire {when} ({doc['timezone']} cron {doc['cron']!r})"


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonOpt = False, fmt: FormatOpt = None) -> None:
    """Every schedule with its next fire, its last fire and that job's outcome.

    \b
    Example: sc schedule list --json
    """
    from sccli.schedules import list_schedules

    a: Application = ctx.obj
    rows = [_row(a, d) for d in list_schedules(a.store)]
    a.emit(envelope(rows), lambda listed: _print_schedules(a, listed["items"], fmt), as_json=as_json)


def _print_schedules(a: Application, rows: list[dict[str, Any]], fmt: FormatOpt) -> None:
    if not rows:
        a.info("no schedules (sc schedule add NAME --type T --cron '0 3 * * *')")
    else:
        a.print_table(rows, _COLUMNS, fmt=fmt, headers=_HEADERS, title="Schedules")


@app.command("show")
def show(ctx: typer.Context, name: NameArg, as_json: JsonOpt = False) -> None:
    """One schedule and its latest fires (time, outcome, job, reason).

    \b
    Example: sc schedule show nightly-backup
    """
    from sccli.schedules import get_schedule, schedule_fires

    a: Application = ctx.obj
    doc = get_schedule(a.store, name)
    fires = schedule_fires(a.store, doc)
    shown = {**_row(a, doc), "last_outcome": doc.get("last_outcome"), "fires": fires}
    a.emit(shown, lambda _: _print_schedule(a, doc, fires), as_json=as_json)


def _print_schedule(a: Application, doc: dict[str, Any], fires: list[dict[str, Any]]) -> None:
    a.print_record(_row(a, doc), title=f"Schedule {doc['name']}")
    for fire in fires:
        reason = f" ({fire['reason']})" if fire.get("reason") else ""
        a.say(f"  {fire['fire_at'].isoformat()}  {fire['outcome']:<7}  {fire.get('fired_job_id') or '-'}{reason}")


def _set_paused(ctx: typer.Context, name: str, paused: bool, as_json: bool) -> None:
    from sccli.schedules import set_paused

    a: Application = ctx.obj
    doc = set_paused(a.store_for_write, name, paused, actor=_actor())
    state = "paused" if paused else f"resumed: next fire {doc['next_run_at'].isoformat()}"
    a.emit(doc, lambda _: a.say(f"schedule {doc['name']} {state}"), as_json=as_json)


@app.command("pause")
def pause(ctx: typer.Context, name: NameArg, as_json: JsonOpt = False) -> None:
    """Stop a schedule from firing (jobs it already created are untouched).

    \b
    Example: sc schedule pause nightly-backup
    """
    _set_paused(ctx, name, True, as_json)


@app.command("resume")
def resume(ctx: typer.Context, name: NameArg, as_json: JsonOpt = False) -> None:
    """Let a paused schedule fire again, from its next fire time after now (no catch-up of the pause).

    \b
    Example: sc schedule resume nightly-backup
    """
    _set_paused(ctx, name, False, as_json)


@app.command("remove")
def remove(ctx: typer.Context, name: NameArg, as_json: JsonOpt = False) -> None:
    """Delete a schedule (jobs it already created are untouched).

    \b
    Example: sc schedule remove nightly-backup
    """
    from sccli.schedules import remove_schedule

    a: Application = ctx.obj
    doc = remove_schedule(a.store_for_write, name)
    removed = {"removed": doc["name"], "schedule_id": doc["schedule_id"]}
    a.emit(removed, lambda _: a.say(f"schedule {doc['name']} removed"), as_json=as_json)


@app.command("run-now")
def run_now(ctx: typer.Context, name: NameArg, as_json: JsonOpt = False) -> None:
    """Create the schedule's job now, outside its timetable (its next fire is unchanged).

    \b
    Example: sc schedule run-now nightly-backup
    """
    from sccli.schedule_firing import ScheduleFirer

    a: Application = ctx.obj
    fire = ScheduleFirer(a.queue(write=True), actor=_actor(), allow_every=True).run_now(name)
    reason = f" ({fire.reason})" if fire.reason else ""
    said = f"schedule {fire.name}: {fire.outcome} {fire.job_id or ''}{reason}".rstrip()
    a.emit(fire.to_dict(), lambda _: a.say(said), as_json=as_json)
    if fire.outcome == "failed" and not as_json:  # JSON carries the outcome; a script reads it there
        raise typer.Exit(1)
