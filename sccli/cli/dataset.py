"""``sc dataset``: register and inspect datasets."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from sccli.cli import complete
from sccli.cli.context import Application, envelope
from sccli.cli.options import FormatOpt, JsonOpt, WideOpt
from sccli.domain import DatasetStatus
from sccli.errors import InvalidInput

#: Fields ``dataset add`` sets itself (options or bookkeeping): --extra-json may not set them.
RESERVED_FIELDS = frozenset(
    {"_id", "uuid", "name", "status", "user", "sensor", "google_drive_link", "convert", "created_at", "updated_at"}
)

app = typer.Typer(help="Register and inspect datasets (the portal's visstoredatas).", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    uuid: Annotated[Optional[str], typer.Option("--uuid", help="Dataset UUID (default: a new one).")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Display name.")] = None,
    user: Annotated[Optional[str], typer.Option("--user", help="Owner's e-mail.")] = None,
    sensor: Annotated[Optional[str], typer.Option("--sensor", help="Sensor type, e.g. TIFF, 4D_Probe, HDF5.")] = None,
    status: Annotated[str, typer.Option("--status", help="Initial status.")] = DatasetStatus.SUBMITTED.value,
    google_drive_link: Annotated[
        Optional[str], typer.Option("--google-drive-link", help="Drive folder to sync from.")
    ] = None,
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
    check_status(status)
    extra = _extra_fields(extra_json)
    doc = add_dataset(
        a.store_for_write, str(uuidlib.uuid4()) if uuid is None else uuid, name, status, user=user, sensor=sensor,
        google_drive_link=google_drive_link, convert=convert, **extra,
    )
    a.emit(doc, lambda created: a.result(created["uuid"]), as_json=as_json)


def check_status(status: str) -> None:
    """Refuse a dataset status the portal does not use (one line listing them)."""

    if status not in {member.value for member in DatasetStatus}:
        raise InvalidInput(
            f"unknown dataset status {status[:40]!r} ({', '.join(member.value for member in DatasetStatus)})"
        )


def _extra_fields(extra_json: str | None) -> dict[str, Any]:
    from sccli.limits import check_storable, decode_json

    if extra_json is None:
        return {}
    extra = decode_json(extra_json, "--extra-json")
    if not isinstance(extra, dict):
        raise InvalidInput("--extra-json must be a JSON object")
    taken = sorted(set(extra) & RESERVED_FIELDS)
    if taken:
        raise InvalidInput(f"--extra-json may not set {', '.join(taken)} (use the options, or leave them to sc)")
    check_storable(extra, "--extra-json")
    return extra


@app.command("show")
def show(
    ctx: typer.Context,
    uuid: Annotated[str, typer.Argument(help="Dataset UUID.", autocompletion=complete.dataset_uuids)],
    as_json: JsonOpt = False,
    fmt: FormatOpt = None,
    wide: WideOpt = False,
) -> None:
    """Show a dataset with its jobs, newest first.

    \b
    Example: sc dataset show 550e8400-e29b-41d4-a716-446655440000
    """
    from sccli.cli.dataset_view import dataset_show

    dataset_show(ctx.obj, uuid, as_json, fmt, wide=wide)


@app.command("list")
def list_datasets(
    ctx: typer.Context,
    status: Annotated[
        Optional[list[DatasetStatus]],
        typer.Option("--status", "-s", help="Filter by status (repeatable).", show_default=False),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100000, help="At most this many.")] = 100,
    show_all: Annotated[bool, typer.Option("--all", help="Every matching dataset (no --limit).")] = False,
    as_json: JsonOpt = False,
    fmt: FormatOpt = None,
) -> None:
    """List datasets; says on stderr when the list is cut at --limit.

    \b
    Example: sc dataset list --status "conversion error"
    """
    from sccli.cli.job_view import say_cut
    from sccli.datasets import count_datasets, list_datasets

    a: Application = ctx.obj
    statuses = [s.value for s in status] if status else None
    docs = list_datasets(a.store, statuses, limit=None if show_all else limit)
    total = count_datasets(a.store, statuses) if len(docs) == limit and not show_all else len(docs)
    say_cut(a, len(docs), total)
    columns = ["uuid", "name", "status", "user", "sensor", "updated_at"]
    listing = envelope(docs, total, None if show_all else limit)
    a.emit(listing, lambda listed: a.print_table(listed["items"], columns, fmt=fmt, title="Datasets"), as_json=as_json)


@app.command("set-status")
def set_status(
    ctx: typer.Context,
    uuid: Annotated[str, typer.Argument(help="Dataset UUID.", autocompletion=complete.dataset_uuids)],
    status: Annotated[
        str, typer.Argument(help="The new status, e.g. 'conversion queued' (quote statuses with spaces).")
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="Why (required): recorded in job_events with you as the actor.")
    ] = "",
    force: Annotated[
        bool, typer.Option("--force", help="Allow a move the transition table refuses (recorded as forced).")
    ] = False,
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
    a.emit(doc, lambda changed: a.result(f"dataset {uuid} is now {changed['status']!r}"), as_json=as_json)
