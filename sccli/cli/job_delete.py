"""``sc job delete ID``: remove one ended job with its events and log file (registered on the
``sc job`` app by :mod:`sccli.cli.job`; the work is :mod:`sccli.job_delete`)."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from sccli.cli import complete
from sccli.cli.confirm import YesOpt, confirm_write
from sccli.cli.context import Application
from sccli.cli.options import JsonOpt


def delete(
    ctx: typer.Context,
    job_id: Annotated[
        str,
        typer.Argument(help="Job ID (or a unique prefix of at least 6 characters).", autocompletion=complete.job_ids),
    ],
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why, kept in the audit event.")] = None,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete one ended job (completed, failed or cancelled), its events and its log file; an
    active job is refused (exit 5). A `deleted` event with the actor and reason is kept as the audit.

    \b
    Example: sc job delete 30bf796d --reason "test upload" --yes
    """
    from sccli.job_delete import deletable_job, delete_job
    from sccli.queue import default_actor

    a: Application = ctx.obj
    store = a.store_for_write
    job = deletable_job(store, job_id)
    confirm_write(a, f"Delete {job['job_type']} job {job['job_id']} ({job['status']}) from {store.display_url}?", yes)
    result = delete_job(store, a.settings, job, default_actor(), reason)
    a.emit(result, lambda deleted: _print_deleted(a, deleted), as_json=as_json)


def _print_deleted(a: Application, result: dict[str, Any]) -> None:
    a.result(f"deleted job {result['job_id']} ({result['status']}), {result['events']} event(s), "
             f"{result['log_files']} log file(s)")
    if result["log_error"]:
        a.info(f"log file not removed: {result['log_error']}")
