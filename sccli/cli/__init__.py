"""The ``sc`` command line (Typer + Rich). Only this package imports typer or rich."""

from __future__ import annotations


def main() -> None:
    """Console-script entry point."""
    from sccli.cli.app import app

    app(prog_name="sc")
