"""The fast lane: the read commands without importing Typer.

Importing Typer costs more than the whole budget of a read command (about 50-90 ms on this
machine), so `sc job show ID`, `sc job list`, `sc dataset show UUID` and `sc monitor overview`
and `sc monitor report` are parsed here when their arguments are plain, and run through the same typer-free functions
the Typer commands call (:mod:`sccli.cli.job_view`, ...). The rule that keeps both lanes one
CLI: the fast lane either declines (returns, and Typer handles the arguments) or runs with
exactly the values Typer would have passed. Anything it does not know for sure — an unknown or
abbreviated option, a value Typer would refuse, ``--``, ``-sVALUE``, a word that is not printable
(a NUL, a control character, bytes that are not UTF-8), shell completion —
is declined, so every error message and every other command stays Typer's.
``tests/cli/test_fast.py`` checks the parsed values against Typer's own parse of the same words.
``--version`` and help are served before it (:func:`sccli.cli.main`, :mod:`sccli.cli.help_cache`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

#: What an option takes: a FLAG sets True, a COUNT adds one, a VALUE takes the next word.
FLAG, COUNT, VALUE = "flag", "count", "value"


class Declined(Exception):
    """These arguments are Typer's to parse (or to refuse)."""


@dataclass(frozen=True)
class Opt:
    """One option as its Typer command declares it (``tests/cli/test_fast.py`` keeps them equal)."""

    dest: str
    kind: str = FLAG
    convert: Callable[[str], Any] = str
    multiple: bool = False


@dataclass(frozen=True)
class Command:
    """A command the fast lane runs: its options, positional names and the function doing its work."""

    options: dict[str, Opt]
    arguments: tuple[str, ...]
    #: ``module:function`` doing the work, called as ``function(application, **parameters)``.
    target: str
    defaults: dict[str, Any]

    def run(self, a: Any, **params: Any) -> None:
        import importlib

        module, _, name = self.target.partition(":")
        getattr(importlib.import_module(module), name)(a, **params)


def digits_in(low: int, high: int) -> Callable[[str], int]:
    """An ``int`` option with Typer's ``min``/``max``: plain decimal digits inside the range."""

    def convert(text: str) -> int:
        if not text or not all("0" <= c <= "9" for c in text) or not low <= int(text) <= high:
            raise Declined(text)
        return int(text)

    return convert


def member_of(enum: Any) -> Callable[[str], Any]:
    """An enum option: exactly one of its values (Typer's choices are case-sensitive)."""

    def convert(text: str) -> Any:
        for member in enum:
            if member.value == text:
                return member
        raise Declined(text)

    return convert


def plain_text(text: str) -> str:
    """A text value; one that looks like an option is left to Typer."""
    if text.startswith("-"):
        raise Declined(text)
    return text


ROOT_OPTIONS = {
    "--db": Opt("db", VALUE, plain_text), "--db-name": Opt("db_name", VALUE, plain_text),
    "--settings": Opt("settings", VALUE, plain_text), "-v": Opt("verbose", COUNT), "--verbose": Opt("verbose", COUNT),
    "-q": Opt("quiet"), "--quiet": Opt("quiet"), "--no-color": Opt("no_color"),
}
ROOT_DEFAULTS: dict[str, Any] = {
    "db": None, "db_name": None, "settings": None, "verbose": 0, "quiet": False, "no_color": False,
}


def commands() -> dict[tuple[str, str], Command]:
    """The fast lane's commands, keyed by (group, command)."""
    from sccli.cli.render import OutputFormat
    from sccli.domain import JobStatus

    as_json = {"--json": Opt("as_json")}
    wide = {"--wide": Opt("wide")}
    fmt = {"--format": Opt("fmt", VALUE, member_of(OutputFormat)), "-f": Opt("fmt", VALUE, member_of(OutputFormat))}
    listing = {
        "--status": Opt("status", VALUE, member_of(JobStatus), True),
        "-s": Opt("status", VALUE, member_of(JobStatus), True),
        "--type": Opt("job_type", VALUE, plain_text, True),
        "-t": Opt("job_type", VALUE, plain_text, True),
        "--dataset": Opt("dataset", VALUE, plain_text),
        "-d": Opt("dataset", VALUE, plain_text),
        "--limit": Opt("limit", VALUE, digits_in(1, 100000)),
        "-n": Opt("limit", VALUE, digits_in(1, 100000)),
        "--all": Opt("show_all"),
        **as_json,
        **fmt,
        **wide,
        "--param": Opt("param", VALUE, plain_text, True),
        "-p": Opt("param", VALUE, plain_text, True),
        "--user": Opt("user", VALUE, plain_text),
        "-u": Opt("user", VALUE, plain_text),
        "--dataset-name": Opt("dataset_name", VALUE, plain_text),
    }
    return {
        ("job", "show"): Command(as_json, ("job_id",), "sccli.cli.job_view:job_show", {"as_json": False}),
        ("job", "list"): Command(
            listing,
            (),
            "sccli.cli.job_view:job_list",
            {
                "status": None, "job_type": None, "dataset": None, "limit": 50, "show_all": False, "as_json": False,
                "fmt": None, "wide": False, "param": None, "user": None, "dataset_name": None,
            },
        ),
        ("dataset", "show"): Command(
            {**as_json, **fmt, **wide}, ("uuid",), "sccli.cli.dataset_view:dataset_show",
            {"as_json": False, "fmt": None, "wide": False},
        ),
        ("monitor", "overview"): Command(
            {**as_json, **fmt, "--check": Opt("check"), "--section": Opt("section", VALUE, plain_text)}, (),
            "sccli.cli.fast:overview", {"as_json": False, "fmt": None, "check": False, "section": None},
        ),
        ("monitor", "report"): Command(
            {**as_json, **fmt, "--days": Opt("days", VALUE, digits_in(1, REPORT_MAX_DAYS))}, (),
            "sccli.cli.fast:report", {"days": 7, "as_json": False, "fmt": None},
        ),
    }


#: ``sc monitor report --days`` upper bound (``sccli.cli.monitor.MAX_DAYS``; the test keeps them equal).
REPORT_MAX_DAYS = 3650


def overview(a: Any, as_json: bool = False, fmt: Any = None, check: bool = False, section: str | None = None) -> None:
    """``sc monitor overview`` without ``--watch``: with ``--check`` the plugin line."""
    from sccli.cli import monitor_view

    if check:
        monitor_view.overview_check(a)
    monitor_view.overview_once(a, fmt, as_json, section)


def report(a: Any, days: int = 7, as_json: bool = False, fmt: Any = None) -> None:
    """``sc monitor report``: what the Typer command prints, read from the store alone."""
    from sccli.cli import monitor_view

    data = monitor_view.read_monitor(a).get_performance_report(days)
    a.emit(data, lambda _: monitor_view.print_report(a, data, fmt), as_json=as_json)


def parse_options(
    words: list[str], options: dict[str, Opt], values: dict[str, Any], arguments: list[str] | None
) -> list[str]:
    """Consume the options (and, when ``arguments`` is a list, the positionals) Typer would read
    from ``words`` into ``values``; the rest (from the first word that is neither) is returned."""
    while words:
        word = words[0]
        if word == "--" or "\x00" in word:
            raise Declined(word)
        name, eq, attached = word.partition("=") if word.startswith("--") else (word, "", "")
        if name in options:
            words.pop(0)
            take(options[name], values, attached if eq else None, words)
        elif (
            word.startswith("-")
            and len(word) > 2
            and word[1] != "-"
            and all(f"-{c}" in options and options[f"-{c}"].kind != VALUE for c in word[1:])
        ):
            words.pop(0)  # stacked short flags: -vq, -vv
            for c in word[1:]:
                take(options[f"-{c}"], values, None, words)
        elif word.startswith("-"):
            raise Declined(word)
        elif arguments is not None:
            arguments.append(words.pop(0))
        else:
            return words
    return words


def take(opt: Opt, values: dict[str, Any], attached: str | None, words: list[str]) -> None:
    if opt.kind != VALUE:
        if attached is not None:
            raise Declined(opt.dest)
        values[opt.dest] = values.get(opt.dest, 0) + 1 if opt.kind == COUNT else True
        return
    if attached is None:
        if not words:
            raise Declined(opt.dest)
        attached = words.pop(0)
    value = opt.convert(attached)
    if opt.multiple:
        values[opt.dest] = [*(values.get(opt.dest) or []), value]
    else:
        values[opt.dest] = value


def parse(argv: Sequence[str]) -> tuple[dict[str, Any], Command, dict[str, Any]]:
    """(root options, the command, its parameters) for ``argv``, or Declined."""
    words = list(argv)
    unprintable = next((w for w in words if not w.isprintable()), None)
    if unprintable is not None:  # a control character, bytes not UTF-8: the Typer lane refuses it in one way
        raise Declined(unprintable)
    root: dict[str, Any] = dict(ROOT_DEFAULTS)
    words = parse_options(words, ROOT_OPTIONS, root, None)
    if len(words) < 2 or any(w in ("-h", "--help") for w in words):
        raise Declined("help or no command")
    command = commands().get((words[0], words[1]))
    if command is None:
        raise Declined(" ".join(words[:2]))
    params: dict[str, Any] = dict(command.defaults)
    positional: list[str] = []
    parse_options(words[2:], command.options, params, positional)
    if len(positional) != len(command.arguments):
        raise Declined("arguments")
    params.update(zip(command.arguments, positional, strict=True))
    return root, command, params


def run(argv: Sequence[str]) -> None:
    """Run a read command here and exit, or return (declined) for Typer to handle ``argv``."""
    try:
        root, command, params = parse(argv)
    except Declined:
        return
    from sccli.cli.context import open_application, run_guarded

    a = open_application(**root)
    run_guarded(lambda: command.run(a, **params))
    sys.exit(0)
