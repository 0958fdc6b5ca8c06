"""``sc dataset show``: its work and rendering, typer-free (the fast lane :mod:`sccli.cli.fast`
runs it without Typer; :mod:`sccli.cli.dataset` declares its options)."""

from __future__ import annotations

from typing import Any

from sccli.cli.context import Application
from sccli.cli.job_view import LIST_COLUMNS, LIST_HEADERS
from sccli.cli.render import OutputFormat


def dataset_show(
    a: Application, uuid: str, as_json: bool = False, fmt: OutputFormat | None = None, *, wide: bool = False
) -> None:
    """A dataset with its jobs, newest first."""
    a.wide = wide
    from sccli.datasets import dataset_with_jobs

    doc = dataset_with_jobs(a.store, uuid, limit=200)
    a.emit(doc, lambda shown: _print_dataset(a, uuid, shown, fmt), as_json=as_json)


def _print_dataset(a: Application, uuid: str, doc: dict[str, Any], fmt: OutputFormat | None) -> None:
    jobs = doc.pop("jobs")
    a.print_record(doc, title=f"Dataset {uuid}")
    a.print_table(jobs, LIST_COLUMNS, fmt=fmt, headers=LIST_HEADERS, title="Jobs")
