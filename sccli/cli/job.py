"""``sc job``: create, show, list, retry and cancel jobs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from sccli.cli import complete, job_delete, job_ops, job_watch
from sccli.cli.context import Application
from sccli.cli.options import FormatOpt, JsonOpt, WideOpt
from sccli.domain import JobStatus
from sccli.errors import InvalidInput

app = typer.Typer(help="Create, inspect, retry and cancel jobs.", no_args_is_help=True)



def _parse_param(text: str) -> tuple[str, Any]:
    """``key=value``: the value as JSON when it is JSON, else as text; NaN/Infinity are refused."""
    import math

    from sccli.limits import NestedTooDeeply, decode_json

    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise InvalidInput(f"--param needs key=value, got {text[:80]!r}")
    try:
        number = float(raw)
    except ValueError:
        number = 0.0
    if not math.isfinite(number):  # NaN, Infinity, 1e400: no store keeps them
        raise InvalidInput(
            f"--param {key}: {raw[:40]!r} is not a finite number (write {key}='\"{raw[:40]}\"' for the text)"
        )
    if not raw.strip():
        return key, raw
    try:
        return key, decode_json(raw, f"--param {key}")
    except NestedTooDeeply:
        raise
    except InvalidInput:  # not JSON: the value is the text itself
        return key, raw


def _params_json(text: str) -> Any:
    from sccli.limits import decode_json

    if text.startswith("@"):
        from sccli.bounded import MAX_PARAMETERS_FILE_BYTES, read_at_most

        path = Path(text[1:])
        try:  # InvalidInput (too large) is a ValueError: its own words, not "cannot read"
            text = read_at_most(path, MAX_PARAMETERS_FILE_BYTES, "--params-json file").decode("utf-8")
        except InvalidInput:
            raise
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput(
                f"cannot read --params-json file {str(path)[:200]}: {getattr(exc, 'strerror', None) or exc}"
            ) from None
    return decode_json(text, "--params-json")


def collect_parameters(params_json: str | None, params: list[str]) -> dict[str, Any]:
    """Merge --params-json (object) and --param k=v pairs, refusing what no store can hold."""
    from sccli.limits import check_storable

    merged: Any = _params_json(params_json) if params_json is not None else {}
    if not isinstance(merged, dict):
        raise InvalidInput(f"parameters must be a JSON object, got {type(merged).__name__}")
    merged.update(_parse_param(p) for p in params)
    check_storable(merged, "parameters")
    return merged


@app.command("create")
def create(
    ctx: typer.Context,
    dataset: Annotated[
        str, typer.Option("--dataset", "-d", help="Dataset UUID.", autocompletion=complete.dataset_uuids)
    ],
    job_type: Annotated[
        str, typer.Option("--type", "-t", help="Job type, e.g. dataset_conversion.", autocompletion=complete.job_types)
    ],
    param: Annotated[
        Optional[list[str]],
        typer.Option("--param", "-p", help="Parameter key=value (repeatable; JSON values allowed)."),
    ] = None,
    params_json: Annotated[
        Optional[str], typer.Option("--params-json", help="Parameters as a JSON object, or @file.")
    ] = None,
    priority: Annotated[
        Optional[str], typer.Option("--priority", help="1-3 or high/normal/low (default from the job type).")
    ] = None,
    max_attempts: Annotated[
        Optional[int],
        typer.Option("--max-attempts", help="Attempts before failing for good (default from the job type)."),
    ] = None,
    timeout_minutes: Annotated[
        Optional[int], typer.Option("--timeout-minutes", help="Per-attempt timeout (default from the job type).")
    ] = None,
    allow_missing_dataset: Annotated[
        bool, typer.Option("--allow-missing-dataset", help="Create the job even if the dataset is unknown.")
    ] = False,
    allow_duplicate: Annotated[
        bool, typer.Option("--allow-duplicate", help="Allow a second active job of this type for the dataset.")
    ] = False,
    at: Annotated[
        Optional[str],
        typer.Option(
            "--at", help="Start no earlier than this ISO time (no zone = UTC; a past time: at once).",
            show_default=False,
        ),
    ] = None,
    later: Annotated[
        Optional[str], typer.Option("--in", help="Start after this delay: 30m, 2h, 1d.", show_default=False)
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a job for a dataset, to run now or later (--at / --in: the job waits as scheduled).

    \b
    Example: sc job create --dataset 550e8400-e29b-41d4-a716-446655440000 --type dataset_conversion
    Example: sc job create -d 550e8400-e29b-41d4-a716-446655440000 -t backup_creation --at 2026-12-08T03:00
    """
    from sccli.operations import create_job_naming_duplicate, start_of

    a: Application = ctx.obj
    run_at, delay = start_of(at, later)
    parameters = collect_parameters(params_json, param or [])
    queue = a.queue(write=True)
    job_id = create_job_naming_duplicate(
        queue, dataset, job_type, parameters, priority=priority, max_attempts=max_attempts,
        timeout_minutes=timeout_minutes, allow_missing_dataset=allow_missing_dataset, allow_duplicate=allow_duplicate,
        run_at=run_at, delay=delay,
    )
    job = queue.get_job(job_id) or {}
    a.emit(job, lambda created: _print_created(a, job_id, created, queue.store.now), as_json=as_json)


def _print_created(a: Application, job_id: str, job: dict[str, Any], now: Callable[[], Any]) -> None:
    """The new job's id on stdout (for scripts), when it starts on stderr if it waits."""
    a.result(job_id)
    if job.get("status") == JobStatus.SCHEDULED:
        from sccli.explain import starts_in

        a.info(f"scheduled: {starts_in(job, now())}")


@app.command("show")
def show(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help="Job ID.", autocompletion=complete.job_ids)],
    as_json: JsonOpt = False,
) -> None:
    """Show a job, its history, its log file and progress, and why it is not running yet.

    \b
    Example: sc job show 2f1e0c4a-...
    """
    from sccli.cli.job_view import job_show

    job_show(ctx.obj, job_id, as_json)


@app.command("list")
def list_jobs(
    ctx: typer.Context,
    status: Annotated[
        Optional[list[JobStatus]],
        typer.Option("--status", "-s", help="Filter by status (repeatable).", show_default=False),
    ] = None,
    job_type: Annotated[
        Optional[list[str]],
        typer.Option(
            "--type", "-t", help="Filter by job type (repeatable).", show_default=False,
            autocompletion=complete.job_types,
        ),
    ] = None,
    dataset: Annotated[
        Optional[str],
        typer.Option(
            "--dataset", "-d", help="Filter by dataset UUID.", show_default=False, autocompletion=complete.dataset_uuids
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=100000, help="At most this many jobs, newest first.")
    ] = 50,
    show_all: Annotated[bool, typer.Option("--all", help="Every matching job (no --limit).")] = False,
    as_json: JsonOpt = False,
    fmt: FormatOpt = None,
    wide: WideOpt = False,
    param: Annotated[
        Optional[list[str]],
        typer.Option(
            "--param", "-p",
            help="Parameter key=value (repeatable): searched in the newest 5000 jobs the other filters select.",
            show_default=False,
        ),
    ] = None,
    user: Annotated[
        Optional[str], typer.Option("--user", "-u", help="Jobs of this user's datasets.", show_default=False)
    ] = None,
    dataset_name: Annotated[
        Optional[str],
        typer.Option(
            "--dataset-name", help="Jobs of datasets whose name contains this text (any case).", show_default=False
        ),
    ] = None,
) -> None:
    """List jobs, newest first; says on stderr when the list is cut at --limit (or a search at its bound).

    \b
    Example: sc job list --status failed --type dataset_conversion
    Example: sc job list --user a@example.org --param sensor=4D
    """
    from sccli.cli.job_view import job_list

    job_list(ctx.obj, status, job_type, dataset, limit, show_all, as_json, fmt, wide=wide, param=param, user=user,
             dataset_name=dataset_name)


TYPE_COLUMNS = ["name", "type", "required", "default", "path", "description"]
TYPE_HEADERS = ["PARAMETER", "TYPE", "REQUIRED", "DEFAULT", "PATH", "DESCRIPTION"]


@app.command("types")
def types(
    ctx: typer.Context,
    job_type: Annotated[
        Optional[str], typer.Argument(help="Only this job type.", autocompletion=complete.job_types)
    ] = None,
    as_json: JsonOpt = False,
    fmt: FormatOpt = None,
) -> None:
    """List the job types with their defaults and the parameters each accepts.

    \b
    Example: sc job types dataset_conversion
    """
    from sccli.handlers import describe_types

    a: Application = ctx.obj
    described = _with_limits(a, describe_types(a.settings, job_type))
    a.emit(described, lambda entries: _print_types(a, entries, fmt), as_json=as_json)


def _print_types(a: Application, described: list[dict[str, Any]], fmt: FormatOpt) -> None:
    """One table of parameters per job type, titled with its defaults."""
    import sys

    for entry in described:
        facts = (
            f"priority {entry['priority']}, timeout {entry['timeout_minutes']} min, {entry['max_attempts']} attempts"
        )
        facts += ", needs internet" if entry["requires_internet"] else ""
        limits = {k: v for k, v in (entry.get("limits") or {}).items() if k != "job_type" and v is not None}
        facts += "; sc queue set: " + ", ".join(f"{k} {v}" for k, v in limits.items()) if limits else ""
        rows = [
            {
                **p, "required": "yes" if p.get("required") else "", "path": "data dir" if p.get("path") else "",
                "description": p["description"] + (" [carried]" if p.get("carried") else ""),
            }
            for p in entry["parameters"]
        ]
        title = f"{entry['job_type']}: {entry['description']} ({facts})"
        if not entry["declared"]:
            a.result(f"{title}\n  parameters not declared (not checked)\n")
            continue
        if (fmt.value if fmt else "table" if sys.stdout.isatty() else "plain") == "plain":
            a.result(title)  # Rich and markdown tables carry their title themselves
        a.print_table(rows, TYPE_COLUMNS, fmt=fmt, headers=TYPE_HEADERS, title=title)
        a.result("")


def _with_limits(a: Application, described: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each type with its fleet-wide limits (``limits``) and its defaults as a new job gets them
    (the control's overrides applied); unchanged when the store cannot be read."""
    from sccli.controls import read_limits
    from sccli.errors import ScError
    from sccli.store.urls import default_sqlite_path

    try:
        if a.target.is_default and not default_sqlite_path().exists():  # no store yet: nothing is limited
            return described
        limits = read_limits(a.store)
    except ScError:
        return described
    out = []
    for entry in described:
        lim = limits.get(entry["job_type"])
        overrides = {k: getattr(lim, k) for k in ("priority", "timeout_minutes", "max_attempts")
                     if lim and getattr(lim, k) is not None}
        out.append({**entry, **overrides, "limits": lim.as_row() if lim else None})
    return out


# The operator commands (sccli.cli.job_ops, sccli.cli.job_watch): cancel, retry, purge, logs, wait.
for _name in ("cancel", "retry", "purge"):
    app.command(_name)(getattr(job_ops, _name))
for _name in ("logs", "wait"):
    app.command(_name)(getattr(job_watch, _name))
app.command("run-now")(job_ops.run_now)
app.command("delete")(job_delete.delete)
