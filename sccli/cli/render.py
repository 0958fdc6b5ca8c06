"""Rendering of tables and records: Rich on a terminal, tabulate/csv in pipes."""

from __future__ import annotations

import csv
import json
import re
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
        if title and name == "markdown":
            sys.stdout.write(f"### {title}\n\n")
        text = simple_table(matrix, heads, github=name == "markdown")
        if text is None:
            from tabulate import tabulate

            text = tabulate(matrix, heads, tablefmt="github" if name == "markdown" else "plain")
        sys.stdout.write(text + "\n")
        return
    from rich.table import Table

    t = Table(title=title, header_style="bold")
    for head in heads:
        t.add_column(head, overflow="fold")
    for values in matrix:
        t.add_row(*[_styled(v) for v in values])
    app.console.print(t)


_INT = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?[0-9]+\.[0-9]+")


def simple_table(matrix: Sequence[Sequence[str]], heads: Sequence[str], *, github: bool = False) -> str | None:
    """What ``tabulate(matrix, heads, tablefmt="plain" | "github")`` prints, for the tables it
    prints plainly: rows of printable ASCII text without surrounding blanks, whole and decimal
    numbers. None (ask tabulate) for anything else: tabulate ≥ 0.10 looks its version up through
    importlib.metadata at import (~30 ms of every listing). ``tests/cli/test_render.py`` compares."""
    if not heads or any(len(row) != len(heads) for row in matrix) or not all(_plain(h) for h in heads):
        return None
    columns: list[list[str]] = []
    rights: list[bool] = []
    for column in zip(*matrix, strict=True):
        kind = _column_kind(column)
        if kind is None:
            return None
        columns.append(_decimal_aligned(column) if kind == "decimal" else list(column))
        rights.append(kind != "text")
    if not matrix:  # headers only, left-aligned
        columns, rights = [[] for _ in heads], [False] * len(heads)
    widths = [max([len(h) + 2, *map(len, cells)]) for h, cells in zip(heads, columns, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [text.rjust(w) if right else text.ljust(w) for text, w, right in zip(cells, widths, rights, strict=True)]
        if github:
            return ("|" + "|".join(f" {text} " for text in padded) + "|").rstrip()
        return "  ".join(padded).rstrip()

    rows = [line(heads)]
    if github:
        rows.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    rows += [line(row) for row in matrix and zip(*columns, strict=True)]
    return "\n".join(rows)


def _column_kind(column: Sequence[str]) -> str | None:
    """``int`` (right-aligned as it is), ``decimal`` (reformatted, points aligned), ``text``, or
    None when tabulate would read a cell some other way (a bool, inf, 1e5, 1_000, 1,000...)."""
    filled = [text for text in column if text]
    ints = decimals = 0
    for text in filled:
        if not _plain(text) or text in ("True", "False") or ("," in text and any(c.isdigit() for c in text)):
            return None
        try:
            float(text)
        except ValueError:
            continue
        if _INT.fullmatch(text):
            ints += 1
        elif _DECIMAL.fullmatch(text):
            decimals += 1
        else:
            return None
    if not filled or ints + decimals < len(filled):
        return "text"
    return "decimal" if decimals else "int"


def _decimal_aligned(column: Sequence[str]) -> list[str]:
    """tabulate's float column: each number as ``format(x, "g")``, padded so the points align."""
    cells = [format(float(text), "g") if text else "" for text in column]
    after = [_after_point(text) for text in cells]
    most = max(after)
    return [text + (most - n) * " " for text, n in zip(cells, after, strict=True)]


def _after_point(text: str) -> int:
    if not text or _INT.fullmatch(text):
        return -1
    point = text.rfind(".")
    point = text.lower().rfind("e") if point < 0 else point
    return len(text) - point - 1 if point >= 0 else -1


def _plain(text: str) -> bool:
    return text.isascii() and text.isprintable() and text == text.strip()


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
