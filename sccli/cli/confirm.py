"""Confirmation of writes over many jobs: asked on a terminal, ``--yes`` for scripts."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from sccli.errors import EXIT_BAD_INPUT

if TYPE_CHECKING:
    from sccli.cli.context import Application

YesOpt = Annotated[
    bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (required when stdin is not a terminal).")
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Only say what would be done; change nothing.")]


def interactive() -> bool:
    """True when someone can answer a question (stdin is a terminal)."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):  # stdin closed (cron with <&-)
        return False


def confirm_write(a: Application, question: str, yes: bool) -> None:
    """Ask on a terminal; without one refuse (exit 2) unless ``--yes`` was given."""
    if yes:
        return
    if not interactive():
        a.abort("stdin is not a terminal: pass --yes to confirm (or --dry-run to only look)", EXIT_BAD_INPUT)
    typer.confirm(question, abort=True, err=True)
