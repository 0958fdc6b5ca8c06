"""The root ``sc`` app: global options, error translation and the command groups."""

from __future__ import annotations

import sys
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from sccli import __version__
from sccli.cli.context import Application, fail, translate
from sccli.errors import EXIT_INTERNAL, ScError


class ScGroup(TyperGroup):
    """Root group: every ScError and usage error becomes one ``Error: ...`` line and its code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ScError as exc:
            translate(exc)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except BrokenPipeError:
            sys.stderr.close()
            raise typer.Exit(1) from None
        except Exception as exc:  # a bug: still one line, the traceback only on request
            import os

            if os.environ.get("SC_DEBUG"):
                raise
            fail(f"internal error: {type(exc).__name__}: {exc} (set SC_DEBUG=1 for the traceback)", EXIT_INTERNAL)

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None, standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as exc:  # usage errors: bad option, missing argument...
            sys.stderr.write(f"Error: {exc.format_message()}\n")
            sys.exit(getattr(exc, "exit_code", 2))
        except typer.Abort:
            sys.stderr.write("Aborted.\n")
            sys.exit(1)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    cls=ScGroup,
    name="sc",
    help="ScientistCloud job processing: queue, service, monitor, migration and API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"sc {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[
        Optional[str],
        typer.Option("--db", help="Store URL (mongodb://..., sqlite:///path, mongomock://). Default: SC_DB_URL, MONGO_URL, then the local SQLite file.", show_default=False),
    ] = None,
    db_name: Annotated[Optional[str], typer.Option("--db-name", help="Database name (default DB_NAME or scientistcloud).", show_default=False)] = None,
    settings: Annotated[Optional[str], typer.Option("--settings", help="settings.json with data directories, plugins and service options.", show_default=False)] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
) -> None:
    """ScientistCloud job processing: queue, service, monitor, migration and API."""
    ctx.obj = Application(db, db_name, settings)


def _register() -> None:
    from sccli.cli import api, dataset, job

    app.add_typer(job.app, name="job")
    app.add_typer(dataset.app, name="dataset")
    app.add_typer(__import__("sccli.cli.service", fromlist=["app"]).app, name="service")
    app.add_typer(api.app, name="api")
    app.add_typer(__import__("sccli.cli.monitor", fromlist=["app"]).app, name="monitor")
    app.add_typer(__import__("sccli.cli.migrate", fromlist=["app"]).app, name="migrate")


_register()
