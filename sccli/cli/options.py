"""Options shared by many commands (``--json``, ``--format``)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from sccli.cli.render import OutputFormat

__all__ = ["OutputFormat", "JsonOpt", "FormatOpt", "WideOpt", "finite"]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")]
FormatOpt = Annotated[
    Optional[OutputFormat],
    typer.Option(
        "--format", "-f",
        help="Table format: table (Rich), plain, markdown or csv. Default: table on a terminal, plain in a pipe.",
    ),
]

WideOpt = Annotated[
    bool,
    typer.Option(
        "--wide", help="Whole ids in tables (default: their first 8 characters, which every command accepts)."
    ),
]


def finite(value: float | None) -> float | None:
    """Option callback: refuse NaN and Infinity (Typer's ranges let NaN through: it compares false)."""
    import math

    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number")
    return value
