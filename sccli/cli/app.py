"""The root ``sc`` app: global options, error translation and the command groups."""

from __future__ import annotations

import sys
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from sccli import __version__
from sccli.cli.context import open_application, run_guarded
from sccli.errors import EXIT_BAD_INPUT

#: The monitoring-plugin exit code for "cannot tell" (UNKNOWN).
CHECK_UNKNOWN = 3

#: Command groups, imported only when used so `sc --help` and completion stay fast.
#: name → (module with a Typer ``app``, one-line help shown by `sc --help`).
GROUPS: dict[str, tuple[str, str]] = {
    "job": ("sccli.cli.job", "Create, inspect, retry and cancel jobs."),
    "dataset": ("sccli.cli.dataset", "Register and inspect datasets (the portal's visstoredatas)."),
    "service": ("sccli.cli.service", "Run the background service that executes jobs, list services, stop one."),
    "monitor": (
        "sccli.cli.monitor",
        "Monitor the queue for on-call: health, stale and failed jobs, reports, metrics, cleanup.",
    ),
    "migrate": ("sccli.cli.migrate", "Migrate legacy datasets onto the job queue, validate it, roll it back."),
    "api": ("sccli.cli.api", "Serve the HTTP API (/api/v1), the web dashboard (/) and Prometheus metrics (/metrics)."),
    "queue": (
        "sccli.cli.queue",
        "Pause, resume and limit the queue by job type (every service honours it), and show what is in force.",
    ),
    "schedule": (
        "sccli.cli.schedule",
        "Recurring jobs: add cron schedules (any running service fires them), list, pause, resume, run now.",
    ),
    "notify": ("sccli.cli.notify", "Push notifications to webhooks (settings notify): send a test message."),
    "doctor": (
        "sccli.cli.doctor",
        "Check the store, schema, settings, directories, tools and services, and say how to fix what fails.",
    ),
}


class ScGroup(TyperGroup):
    """Root group: lazy command groups; every ScError and usage error becomes one ``Error: ...``
    line and its exit code."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in GROUPS if n not in self.commands)]

    def get_command(self, ctx: Any, name: str) -> Any:
        if name in GROUPS and name not in self.commands:
            import importlib

            import typer.main

            sub = importlib.import_module(GROUPS[name][0]).app
            single = [c.name for c in sub.registered_commands] == [name] and not sub.registered_groups
            # A module whose one command has the group's own name (doctor) is that command, not a group.
            group = typer.main.get_command(sub) if single else typer.main.get_group(sub)
            group.name = name
            self.commands[name] = group
        return super().get_command(ctx, name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = [(name, GROUPS[name][1]) for name in GROUPS]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: Any) -> Any:
        return run_guarded(
            lambda: super(ScGroup, self).invoke(ctx), passthrough=(typer.Exit, typer.Abort, typer.TyperException)
        )

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: Any = None,
        complete_var: Any = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        args = watch_seconds(list(sys.argv[1:] if args is None else args))
        refusal = unreadable_argument(args)
        if refusal is not None:
            sys.stderr.write(f"Error: {refusal}\n")
            sys.exit(EXIT_BAD_INPUT)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as exc:  # usage errors: bad option, missing argument...
            sys.stderr.write(f"Error: {exc.format_message()}\n")
            # Under --check a monitoring plugin must answer UNKNOWN (3): Nagios reads 2 as CRITICAL.
            sys.exit(CHECK_UNKNOWN if "--check" in args else getattr(exc, "exit_code", 2))
        except typer.Abort:
            sys.stderr.write("Aborted.\n")
            sys.exit(1)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


#: Options whose value is JSON text (a newline between its tokens is fine; the decoded values
#: are checked where they are used, e.g. job parameters by their declared types).
JSON_OPTIONS = ("--params-json", "--extra-json", "--param")


def unreadable_argument(args: list[str]) -> str | None:
    """Why an argument is refused before any command runs, else None: no id, name, path or
    number holds a NUL, a control character (a UUID with a trailing newline) or bytes that are
    not UTF-8 (the shell hands them over as surrogates, which no store can encode)."""
    import unicodedata

    for position, arg in enumerate(args, 1):
        if "\x00" in arg:
            return f"argument {position} ({arg[:40]!r}) contains a NUL character"
        if any("\ud800" <= ch <= "\udfff" for ch in arg):
            return f"argument {position} ({arg[:40]!r}) is not valid UTF-8"
        previous = args[position - 2] if position > 1 else ""
        if previous in JSON_OPTIONS or arg.startswith(tuple(f"{o}=" for o in JSON_OPTIONS)):
            continue
        bad = next((ch for ch in arg if unicodedata.category(ch) == "Cc" or ch in "\u2028\u2029"), None)
        if bad is not None:
            return f"argument {position} ({arg[:40]!r}) contains a control character ({bad!r})"
    return None


def watch_seconds(args: list[str]) -> list[str]:
    """Let `--watch [SECONDS]` take an optional value (Typer options cannot): `--watch 5` and
    `--watch=5` become `--watch --interval 5`."""
    out: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        if token.startswith("--watch="):
            out += ["--watch", "--interval", token.split("=", 1)[1]]
        elif token in ("--watch", "-w") and i + 1 < len(args) and _is_number(args[i + 1]):
            out += [token, "--interval", args[i + 1]]
            i += 1
        else:
            out.append(token)
        i += 1
    return out


def _is_number(text: str) -> bool:
    try:
        return float(text) > 0
    except ValueError:
        return False


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
        typer.Option(
            "--db",
            show_default=False,
            help=(
                "Store URL (mongodb://..., sqlite:///path, mongomock://). Default: SC_DB_URL, MONGO_URL, settings "
                "db_url, then the local SQLite file."
            ),
        ),
    ] = None,
    db_name: Annotated[
        Optional[str],
        typer.Option(
            "--db-name",
            help="Database name (default: DB_NAME, the URL's database, settings db_name, then scientistcloud).",
            show_default=False,
        ),
    ] = None,
    settings: Annotated[
        Optional[str],
        typer.Option(
            "--settings", help="settings.json with data directories, plugins and service options.", show_default=False
        ),
    ] = None,
    verbose: Annotated[
        int,
        typer.Option("--verbose", "-v", count=True, help="Say which store and database are used (and more detail)."),
    ] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only results and errors: no notes on stderr.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colours (also when NO_COLOR is set).")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """ScientistCloud job processing: queue, service, monitor, migration and API."""
    ctx.obj = open_application(db, db_name, settings, verbose, quiet, no_color)
