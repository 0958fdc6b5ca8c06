"""``sc dataset``: register and inspect datasets."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from sccli.cli.context import Application
from sccli.cli.job import LIST_COLUMNS, LIST_HEADERS
from sccli.cli.options import FormatOpt, JsonOpt
from sccli.domain import DatasetStatus
from sccli.errors import InvalidInput

app = typer.Typer(help="Register and inspect datasets (the portal's visstoredatas).", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    uuid: Annotated[Optional[str], typer.Option("--uuid", help="Dataset UUID (default: a new one).")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Display name.")] = None,
    user: Annotated[Optional[str], typer.Option("--user", help="Owner's e-mail.")] = None,
    sensor: Annotated[Optional[str], typer.Option("--sensor", help="Sensor type, e.g. TIFF, 4D_Probe, HDF5.")] = None,
    status: Annotated[str, typer.Option("--status", help="Initial status.")] = "submitted",
    google_drive_link: Annotated[Optional[str], typer.Option("--google-drive-link", help="Drive folder to sync from.")] = None,
    convert: Annotated[bool, typer.Option("--convert/--no-convert", help="Convert after upload.")] = True,
    extra_json: Annotated[Optional[str], typer.Option("--extra-json", help="More fields as a JSON object.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a dataset.

    \b
    Example: sc dataset add --name scan-42 --user a@b.org --sensor TIFF
    """
    import uuid as uuidlib

    from sccli.datasets import add_dataset

    a: Application = ctx.obj
    extra = {}
    if extra_json:
        try:
            extra = json.loads(extra_json)
        except ValueError as exc:
            raise InvalidInput(f"--extra-json is not valid JSON: {exc}") from None
        if not isinstance(extra, dict):
            raise InvalidInput("--extra-json must be a JSON object")
    doc = add_dataset(
        a.store, uuid or str(uuidlib.uuid4()), name, status, user=user, sensor=sensor,
        google_drive_link=google_drive_link, convert=convert, **extra,
    )
    if as_json:
        a.print_json(doc)
    else:
        typer.echo(doc["uuid"])


@app.command("show")
def show(
    ctx: typer.Context,
    uuid: Annotated[str, typer.Argument(help="Dataset UUID.")],
    as_json: JsonOpt = False,
    fmt: FormatOpt = None,
) -> None:
    """Show a dataset with its jobs, newest first.

    \b
    Example: sc dataset show 550e8400-e29b-41d4-a716-446655440000
    """
    from sccli.datasets import get_dataset
    from sccli.store.base import JobQuery

    a: Application = ctx.obj
    doc = get_dataset(a.store, uuid)
    jobs = a.store.find_jobs(JobQuery(dataset_uuid=uuid), limit=200)
    if as_json:
        a.print_json({**doc, "jobs": jobs})
        return
    a.print_record(doc, title=f"Dataset {uuid}")
    a.print_table(jobs, LIST_COLUMNS, fmt=fmt, headers=LIST_HEADERS, title="Jobs")


@app.command("list")
def list_datasets(
    ctx: typer.Context,
    status: Annotated[Optional[list[DatasetStatus]], typer.Option("--status", "-s", help="Filter by status (repeatable).", show_default=False)] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many.")] = 100,
    show_all: Annotated[bool, typer.Option("--all", help="Every matching dataset (no --limit).")] = False,
    as_json: JsonOpt = False,
    fmt: FormatOpt = None,
) -> None:
    """List datasets; says on stderr when the list is cut at --limit.

    \b
    Example: sc dataset list --status "conversion error"
    """
    from sccli.cli.job import say_cut

    a: Application = ctx.obj
    statuses = [s.value for s in status] if status else None
    docs = a.store.find_datasets(statuses=statuses, limit=None if show_all else limit)
    if len(docs) == limit and not show_all:
        counts = a.store.count_datasets_by_status()
        say_cut(a, len(docs), sum(n for s, n in counts.items() if statuses is None or s in statuses))
    if as_json:
        a.print_json(docs)
    else:
        a.print_table(docs, ["uuid", "name", "status", "user", "sensor", "updated_at"], fmt=fmt, title="Datasets")


@app.command("set-status")
def set_status(
    ctx: typer.Context,
    uuid: Annotated[str, typer.Argument(help="Dataset UUID.")],
    status: Annotated[str, typer.Argument(help="The new status, e.g. 'conversion queued' (quote statuses with spaces).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (required): recorded in job_events with you as the actor.")] = "",
    force: Annotated[bool, typer.Option("--force", help="Allow a move the transition table refuses (recorded as forced).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Repair a dataset's status by hand: checked against the transition table unless --force.

    \b
    Example: sc dataset set-status 550e8400-e29b-41d4-a716-446655440000 'conversion queued' --reason 'input fixed'
    """
    from sccli.datasets import set_dataset_status
    from sccli.queue import default_actor

    a: Application = ctx.obj
    doc = set_dataset_status(a.store, uuid, status, reason=reason, actor=default_actor(), force=force)
    if as_json:
        a.print_json(doc)
    else:
        typer.echo(f"dataset {uuid} is now {doc['status']!r}")
