"""The ``sc`` command line (Typer + Rich). Only this package imports typer or rich."""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Console-script entry point: ``--version``, help (:mod:`sccli.cli.help_cache`) and the
    read commands (:mod:`sccli.cli.fast`) without importing Typer when they can, else the Typer app."""
    # Rich-rendered help doubles the start-up time of `sc --help` (≈150 ms → 300 ms); plain help
    # is the default, TYPER_USE_RICH=1 brings the boxes back. Tables stay Rich on a terminal.
    os.environ.setdefault("TYPER_USE_RICH", "0")
    argv = sys.argv[1:]
    # Shell completion and Rich-rendered help and errors are Typer's alone.
    if "_SC_COMPLETE" not in os.environ and os.environ["TYPER_USE_RICH"] == "0":
        if argv == ["--version"]:
            from sccli import __version__

            sys.stdout.write(f"sc {__version__}\n")
            sys.exit(0)
        from sccli.cli import help_cache

        help_cache.serve(argv)
        from sccli.cli import fast

        fast.run(argv)
    from sccli.cli.app import app

    app(prog_name="sc")
