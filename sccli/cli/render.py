"""Rendering of tables and records: Rich on a terminal, tabulate/csv in pipes."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from sccli.clock import iso
from sccli.domain import JobStatus

if TYPE_CHECKING:
    from sccli.cli.context import Application


class OutputFormat(str, Enum):
    """``--format`` of listings."""

    table = "table"
    plain = "plain"
    markdown = "markdown"
    csv = "csv"


def json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def cell(value: Any) -> str:
    """A value as table text (times in ISO, None empty)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return iso(value)[:19].replace("T", " ")  # type: ignore[index]
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=json_default)
    return str(value)


STATUS_STYLES = {
    JobStatus.PENDING.value: "yellow", JobStatus.RUNNING.value: "cyan", JobStatus.COMPLETED.value: "green",
    JobStatus.FAILED.value: "red", JobStatus.CANCELLED.value: "magenta",
    "healthy": "green", "warning": "yellow", "critical": "red", "unknown": "magenta",
}


def _format_name(fmt: Any) -> str:
    if fmt is None:
        return "table" if sys.stdout.isatty() else "plain"
    return getattr(fmt, "value", fmt)


def table(
    app: Application,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    *,
    fmt: Any = None,
    title: str | None = None,
    headers: Sequence[str] | None = None,
) -> None:
    heads = list(headers or columns)
    matrix = [[cell(r.get(c)) for c in columns] for r in rows]
    name = _format_name(fmt)
    if name == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(heads)
        writer.writerows(matrix)
        return
    if name in ("plain", "markdown"):
        from tabulate import tabulate

        if title and name == "markdown":
            sys.stdout.write(f"### {title}\n\n")
        sys.stdout.write(tabulate(matrix, heads, tablefmt="github" if name == "markdown" else "plain") + "\n")
        return
    from rich.table import Table

    t = Table(title=title, header_style="bold")
    for head in heads:
        t.add_column(head, overflow="fold")
    for values in matrix:
        t.add_row(*[_styled(v) for v in values])
    app.console.print(t)


def _styled(value: str) -> Any:
    style = STATUS_STYLES.get(value)
    if style:
        from rich.text import Text

        return Text(value, style=style)
    return value


def record(app: Application, data: dict[str, Any], title: str | None = None) -> None:
    """A key/value listing of one document."""
    width = max((len(k) for k in data), default=0)
    if title:
        app.console.print(title, style="bold", markup=False) if sys.stdout.isatty() else sys.stdout.write(title + "\n")
    for key, value in data.items():
        line = f"{key.ljust(width)}  {cell(value)}"
        if sys.stdout.isatty():
            app.console.print(line, markup=False, highlight=False)
        else:
            sys.stdout.write(line + "\n")
