"""The ``sc`` command line (Typer + Rich). Only this package imports typer or rich."""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Console-script entry point: the fast lane (:mod:`sccli.cli.fast`: version, help, read
    commands without Typer) when it can serve the arguments, else the Typer app."""
    # Rich-rendered help doubles the start-up time of `sc --help` (≈150 ms → 300 ms); plain help
    # is the default, TYPER_USE_RICH=1 brings the boxes back. Tables stay Rich on a terminal.
    os.environ.setdefault("TYPER_USE_RICH", "0")
    from sccli.cli import fast

    fast.run(sys.argv[1:])
    from sccli.cli.app import app

    app(prog_name="sc")
