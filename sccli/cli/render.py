"""Rendering of tables and records: Rich on a terminal, tabulate/csv in pipes."""

from __future__ import annotations

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
    jsonl = "jsonl"  # one JSON object per row (the whole record), for streams and scripts


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
    JobStatus.FAILED.value: "red", JobStatus.CANCELLED.value: "magenta", JobStatus.SCHEDULED.value: "blue",
    "healthy": "green", "warning": "yellow", "critical": "red", "unknown": "magenta",
}


def plain_stdout(stream: Any = None) -> bool:
    """Whether Rich would treat stdout (or ``stream``) as no terminal: no styles, no wrapping
    (see ``Console.is_terminal``)."""
    import os

    if os.environ.get("TTY_COMPATIBLE", "") == "1" or os.environ.get("FORCE_COLOR"):
        return False
    try:
        return not (stream or sys.stdout).isatty()
    except ValueError:  # closed
        return True


def _format_name(fmt: Any) -> str:
    if fmt is None:
        return "plain" if plain_stdout() else "table"  # a terminal, or Rich forced to one (TTY_COMPATIBLE, FORCE_COLOR)
    return getattr(fmt, "value", fmt)


#: Columns holding ids: never folded nor cut (a table leaves one out rather than cut it).
ID_COLUMNS = frozenset({"job_id", "dataset_uuid", "parent_job_id", "uuid", "last_job_id"})
#: Job ids, shown by their first 8 characters in tables (every command takes a unique prefix; ``--wide``).
JOB_ID_COLUMNS = frozenset({"job_id", "parent_job_id", "last_job_id"})
#: Columns never wrapped in a Rich table (besides ids): statuses, names, times.
NO_WRAP_COLUMNS = frozenset(
    {
        "status", "state", "job_type", "_id", "created_at", "updated_at", "started_at", "completed_at", "heartbeat_at",
        "at", "first_seen", "last_seen", "kind", "priority", "attempts",
    }
)
#: Columns of seconds, shown as durations (``32m36s``) in tables and plain text; csv/json keep the number.
DURATION_COLUMNS = frozenset(
    {
        "avg_duration", "min_duration", "max_duration", "p50_duration", "p95_duration", "wait_seconds",
        "duration_seconds", "heartbeat_age_seconds", "running_seconds", "beat_age_s",
    }
)


def duration_text(seconds: Any) -> str:
    """Seconds as a duration: ``850ms``, ``42s``, ``32m36s``, ``5h02m``, ``3d04h``."""
    if seconds is None or seconds == "":
        return ""
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        return str(seconds)
    sign, value = ("-" if value < 0 else ""), abs(value)
    if value < 1:
        return f"{sign}{value * 1000:.0f}ms"
    if value < 60:
        return f"{sign}{value:.1f}s" if value < 10 else f"{sign}{value:.0f}s"
    minutes, secs = divmod(int(round(value)), 60)
    if minutes < 60:
        return f"{sign}{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{sign}{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{sign}{days}d{hours:02d}h"


def compact_time(value: datetime) -> str:
    """A time as a terminal table shows it: ``12-07 03:19`` (UTC) this year, else ``2025-12-07``."""
    from datetime import UTC

    now = datetime.now(UTC)
    return value.strftime("%m-%d %H:%M") if value.year == now.year else value.strftime("%Y-%m-%d")


def display_cell(column: str, value: Any, *, wide: bool, when: Any = None) -> str:
    """A value as a table or plain listing shows it: short ids unless ``wide``, durations, and
    times through ``when`` when given."""
    if when is not None and isinstance(value, datetime):
        return str(when(value))
    if column in DURATION_COLUMNS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return duration_text(value)
    if column in JOB_ID_COLUMNS and isinstance(value, str) and not wide and len(value) == 36:
        from sccli.jobids import short_id

        return short_id(value)
    return cell(value)


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
    name = _format_name(fmt)
    if name == "jsonl":
        from sccli.serialize import public

        for row in rows:
            sys.stdout.write(json.dumps(public(row), default=json_default, ensure_ascii=False) + "\n")
        return
    if name in ("table", "plain"):
        wide = getattr(app, "wide", False)
        when = compact_time if name == "table" else None  # a terminal gets short times; a pipe keeps them whole
        matrix = [[display_cell(c, r.get(c), wide=wide, when=when) for c in columns] for r in rows]
    else:
        matrix = [[cell(r.get(c)) for c in columns] for r in rows]
    if name == "csv":
        import csv  # here: only a csv table needs it

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(heads)
        writer.writerows(matrix)
        return
    if name in ("plain", "markdown"):
        if title and name == "markdown":
            sys.stdout.write(f"### {title}\n\n")
        ids = [i for i, c in enumerate(columns) if c in ID_COLUMNS]  # a short id like 3723e156 is no number
        from tabulate import tabulate  # only here: its import (importlib.metadata) costs ~20 ms of CPU

        fmt_name = "github" if name == "markdown" else "plain"
        # disable_numparse by column index fails on a table without rows (tabulate counts no columns then)
        no_numbers = (ids or False) if matrix else False
        # An empty cell is missing, not text: a column of numbers with gaps stays numbers (aligned, formatted).
        cells = [[None if c == "" else c for c in row] for row in matrix]
        sys.stdout.write(tabulate(cells, heads, tablefmt=fmt_name, disable_numparse=no_numbers, missingval="") + "\n")
        return
    rich_table(app, columns, heads, matrix, title)


def rich_table(
    app: Application, columns: Sequence[str], heads: Sequence[str], matrix: list[list[str]], title: str | None
) -> None:
    """A Rich table that fits the terminal: ids, statuses and numbers are shown whole, other text
    is cut with an ellipsis, and columns are left out from the right when even that cannot fit."""
    from rich import box
    from rich.table import Table

    cells_of: list[tuple[str, ...]] = list(zip(*matrix, strict=True)) if matrix else [()] * len(heads)
    shown = _fitting(columns, heads, cells_of, app.console.width)
    if len(shown) < len(columns):
        app.info(
            f"(left out for the width: {', '.join(h for i, h in enumerate(heads) if i not in shown)}; "
            "--format plain shows all)"
        )
    t = Table(title=title, header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for index in shown:
        column, head, values = columns[index], heads[index], cells_of[index]
        numeric = column not in ID_COLUMNS and (
            _column_kind(values) in ("int", "decimal") or column in DURATION_COLUMNS
        )
        whole = column in ID_COLUMNS or column in ("status", "state") or numeric  # shown whole: never folded nor cut
        short = column in NO_WRAP_COLUMNS  # names and times: cut with an ellipsis rather than folded
        t.add_column(
            head, overflow="ellipsis" if short or whole else "fold", no_wrap=whole,
            justify="right" if numeric else "left",
            min_width=max(len(head), *(len(v) for v in values)) if whole and values else None,
        )
    for row in matrix:
        t.add_row(*[_styled(row[i]) for i in shown])
    app.console.print(t, soft_wrap=False, crop=True)  # the console soft-wraps text lines; a table fits the width


def _fitting(columns: Sequence[str], heads: Sequence[str], cells_of: Sequence[Sequence[str]], width: int) -> list[int]:
    """Indexes of the columns to show: all of them, or fewer from the right until their least
    widths (whole ids, statuses and numbers; 8 for other text) and padding fit ``width``."""
    def least(i: int) -> int:
        whole = (
            columns[i] in ID_COLUMNS
            or columns[i] in ("status", "state")
            or _column_kind(cells_of[i]) in ("int", "decimal")
        )
        longest = max([len(heads[i]), *map(len, cells_of[i])])
        return (longest if whole else min(longest, 8)) + 2

    keep = list(range(len(columns)))
    while len(keep) > 1 and sum(least(i) for i in keep) > width:
        droppable = [i for i in keep[1:] if columns[i] not in JOB_ID_COLUMNS and columns[i] not in ("status", "state")]
        if not droppable:
            break
        keep.remove(droppable[-1])
    return keep


_INT = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?[0-9]+\.[0-9]+")


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
