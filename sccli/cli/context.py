"""The one object that owns the store, the console, output formats and exit codes.

Typer-free, like :mod:`sccli.cli.render` and the views: the fast lane (:mod:`sccli.cli.fast`)
runs the read commands through them without importing typer.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from sccli.cli.render import json_default, plain_stdout
from sccli.errors import ScError

if TYPE_CHECKING:
    from rich.console import Console

    from sccli.queue import JobQueue
    from sccli.settings import Settings
    from sccli.store.base import Store
    from sccli.store.urls import StoreTarget

T = TypeVar("T")

class Application:
    """Shared CLI state in ``ctx.obj``: lazily opened store/queue/settings and output helpers.

    ``store`` is for reading: an explicitly named SQLite file that does not exist is reported
    missing (exit 3), never created; commands that write use ``store_for_write`` (or
    ``queue(write=True)``), which may create it. The default file may always be created.
    """

    def __init__(
        self,
        db_url: str | None = None,
        db_name: str | None = None,
        settings_path: str | None = None,
        *,
        verbosity: int = 0,
        quiet: bool = False,
        color: bool = True,
    ) -> None:
        self.db_url = db_url
        self.db_name = db_name
        self.settings_path = settings_path
        self.verbosity = verbosity
        self.quiet = quiet
        self.color = color
        self.wide = False  # whole ids in tables (``--wide``)
        self._store: Store | None = None
        self._writing = False
        self._settings: Settings | None = None
        self._console: Console | None = None
        self._err: Console | None = None

    # -- core objects -----------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from sccli.settings import load_settings

            self._settings = load_settings(self.settings_path)
            if self.verbosity and self.settings_path:
                self.info(f"settings: {self.settings_path}")
        return self._settings

    @property
    def settings_given(self) -> Settings | None:
        """The settings when a settings file was given (or already loaded), else None: the defaults,
        which a read command takes from :mod:`sccli.setting_defaults` without importing the model."""
        return self.settings if self._settings is not None or self.settings_path is not None else None

    def setting(self, name: str) -> Any:
        """One setting's value: the settings file's, else its default (see ``settings_given``)."""
        given = self.settings_given
        if given is not None:
            return getattr(given, name)
        from sccli.setting_defaults import default_setting

        return default_setting(name)

    @property
    def target(self) -> StoreTarget:
        """The store and database this command uses (flag > environment > URL > settings > default)."""
        from sccli.store.urls import resolve_store_target

        # Without a settings file its db_url and db_name are the defaults, which name no store.
        return resolve_store_target(self.db_url, self.db_name, self.settings_given)

    @property
    def store(self) -> Store:
        """The store, opened once; for reading unless ``store_for_write`` was asked first."""
        if self._store is None:
            from sccli.store import describe_store, open_target

            target = self.target
            if self.verbosity:
                self.info(describe_store(target))
            self._store = open_target(target, create=self._writing)
        return self._store

    @property
    def store_for_write(self) -> Store:
        """The store for a command that writes: a named SQLite file that does not exist is created."""
        self._writing = True
        if self._store is not None and hasattr(self._store, "create"):
            self._store.create = True
        return self.store

    def queue(self, *, write: bool = False) -> JobQueue:
        from sccli.queue import JobQueue, default_actor

        store = self.store_for_write if write else self.store
        return JobQueue.from_settings(
            store, self.settings, actor=default_actor(), check_paths=self.settings_path is not None
        )

    # -- consoles ---------------------------------------------------------------------------
    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(highlight=False, soft_wrap=not sys.stdout.isatty(), no_color=not self.color or None)
        return self._console

    @property
    def err(self) -> Console:
        if self._err is None:
            from rich.console import Console

            # soft_wrap: an error or notice is one line whatever the width (cron mail, 2>log, grep)
            self._err = Console(stderr=True, highlight=False, soft_wrap=True, no_color=not self.color or None)
        return self._err

    def say(self, text: str = "", style: str | None = None) -> None:
        """A line on stdout: through Rich on a terminal (its styles and wrapping), written as it is
        where Rich would write it unchanged (a pipe; printable text, no ``:emoji:`` code), which
        spares a read command Rich's import (~30 ms)."""
        if not _plain_line(sys.stdout, text):
            self.console.print(text, style=style, markup=False)

    def info(self, message: str) -> None:
        """A note on stderr (silenced by ``--quiet``); like ``say``, without Rich where it would
        write the line unchanged (``sc job list``'s "showing 50 of ..." into a pipe)."""
        if not self.quiet and not _plain_line(sys.stderr, message):
            self.err.print(message, markup=False, soft_wrap=True)

    def detail(self, message: str) -> None:
        """A note shown only with ``-v``."""
        if self.verbosity and not self.quiet:
            self.err.print(message, markup=False, soft_wrap=True)

    def debug(self, message: str) -> None:
        """A note shown only with ``-vv`` (what a maintainer wants, not an operator)."""
        if self.verbosity > 1 and not self.quiet:
            self.err.print(message, markup=False, soft_wrap=True)

    def notice(self, message: str) -> None:
        """A line on stderr that ``--quiet`` keeps: an item refused, a server's address (what a script
        or an operator must see even when notes are off)."""
        self.err.print(message, markup=False)

    def warn(self, message: str) -> None:
        """``Warning: ...`` on stderr (yellow unless ``NO_COLOR``); shown even with ``--quiet``."""
        self.err.print(f"Warning: {message}", style="yellow", markup=False)

    def error(self, message: str) -> None:
        """``Error: ...`` on stderr without exiting (the command decides its exit code); see ``abort``."""
        self.err.print(f"Error: {message}", markup=False)

    def abort(self, message: str, code: int) -> NoReturn:
        """Print a one-line error and exit with ``code``."""
        fail(message, code)

    # -- output -----------------------------------------------------------------------------
    def emit(self, data: T, render: Callable[[T], None], *, as_json: bool) -> None:
        """The one ending of a command: ``data`` as JSON (``print_json``) when the command was asked
        for ``--json``, else ``render(data)`` for people."""
        if as_json:
            self.print_json(data)
        else:
            render(data)

    def result(self, text: str = "", *, nl: bool = True) -> None:
        """A command's plain result on stdout, never silenced (scripts read it). The bytes
        ``click.echo`` wrote: ANSI codes dropped where stdout is no terminal, flushed at once
        (``logs --follow`` and a pipe see each line as it comes)."""
        out = text + "\n" if nl else text
        if not _isatty(sys.stdout):
            out = _ANSI_CODE.sub("", out)
        if out:
            sys.stdout.write(out)
        sys.stdout.flush()

    def print_json(self, data: Any) -> None:
        """``data`` as JSON through the one serializer (internal job fields left out)."""
        from sccli.serialize import public

        sys.stdout.write(json.dumps(public(data), default=json_default, indent=2, ensure_ascii=False) + "\n")

    def print_page(
        self, items: Sequence[Any], total: int | None = None, limit: int | None = None, offset: int = 0
    ) -> None:
        """A listing for scripts: ``{items, total, limit, offset}`` (see ``envelope``)."""
        self.print_json(envelope(items, total, limit, offset))

    def print_table(
        self,
        rows: Sequence[dict[str, Any]],
        columns: Sequence[str],
        *,
        fmt: Any = None,
        title: str | None = None,
        headers: Sequence[str] | None = None,
    ) -> None:
        """Rows as a Rich table on a terminal, else plain/markdown/csv through tabulate."""
        from sccli.cli import render

        render.table(self, rows, columns, fmt=fmt, title=title, headers=headers)

    def print_record(self, record: dict[str, Any], title: str | None = None) -> None:
        from sccli.cli import render

        render.record(self, record, title)


#: What Rich's print would turn into an emoji (``:name:``); such text goes through Rich.
_EMOJI_CODE = re.compile(r":\S*?:")


#: An ANSI escape sequence (the pattern ``click.echo`` strips when not writing to a terminal).
_ANSI_CODE = re.compile(r"\033\[[;?0-9]*[a-zA-Z]")


def _plain_line(stream: Any, text: str) -> bool:
    """Write ``text`` and a newline to ``stream`` as Rich would write it, unstyled, to no
    terminal (printable text, no ``:emoji:`` code); False (nothing written) otherwise."""
    if plain_stdout(stream) and not _rich_changes(text):
        stream.write(text + "\n")
        return True
    return False


def _rich_changes(text: str) -> bool:
    """Whether Rich would print ``text`` other than as it is: a character not printable, or an
    ``:emoji:`` code Rich knows (``07:16:47`` is none: Rich's own rule decides, its table loaded
    only when a pair of colons is there)."""
    if not text.isprintable():
        return True
    if not _EMOJI_CODE.search(text):
        return False
    from rich._emoji_replace import _emoji_replace

    return bool(_emoji_replace(text) != text)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no such method, or closed
        return False


def open_application(
    db: str | None, db_name: str | None, settings: str | None, verbose: int, quiet: bool, no_color: bool
) -> Application:
    """The ``Application`` for the root options (``NO_COLOR`` in the environment also turns colour off)."""
    import os

    color = not no_color and not os.environ.get("NO_COLOR")
    return Application(db, db_name, settings, verbosity=verbose, quiet=quiet, color=color)


def fail(message: str, code: int) -> NoReturn:
    """The single place an error becomes a line on stderr and an exit code."""
    sys.stderr.write(f"Error: {message}\n")
    raise SystemExit(code)  # not typer.Exit: this module is typer-free; click lets SystemExit through


def translate(error: ScError) -> NoReturn:
    fail(str(error), error.exit_code)


def run_guarded(call: Callable[[], T], passthrough: tuple[type[BaseException], ...] = ()) -> T:
    """Run a command: every ScError becomes one ``Error: ...`` line and its exit code, a bug too
    (its traceback only with ``SC_DEBUG=1``); ``passthrough`` exceptions (Typer's exits) go on."""
    try:
        return call()
    except passthrough:
        raise
    except ScError as exc:
        translate(exc)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except BrokenPipeError:
        sys.stderr.close()
        raise SystemExit(1) from None
    except Exception as exc:
        import os

        if os.environ.get("SC_DEBUG"):
            raise
        from sccli.errors import EXIT_INTERNAL

        fail(f"internal error: {type(exc).__name__}: {exc} (set SC_DEBUG=1 for the traceback)", EXIT_INTERNAL)


def envelope(
    items: Sequence[Any], total: int | None = None, limit: int | None = None, offset: int = 0
) -> dict[str, Any]:
    """A listing's envelope for scripts: ``{items, total, limit, offset}`` (the API's page shape; ``total``
    counts every match, ``limit`` is None when nothing was cut); ``emit`` it with a render of ``["items"]``."""
    count = len(items) + offset if total is None else total
    return {"items": list(items), "total": count, "limit": limit, "offset": offset}
