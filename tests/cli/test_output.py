"""The one output path: ``Application.emit``, ``result`` and the levelled messages."""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import click
import pytest

from sccli.cli.context import Application

TEXTS = ["", "job 1 cancelled", "\x1b[31mred\x1b[0m log line", "\x1b[?25lcursor\x1b[2K", "é ünïcode 中文", "tab\there",
         "[bold]not markup[/bold]", ":warning: no emoji", "x" * 300, "two\nlines"]

LEVELS = ("info", "detail", "debug", "notice", "warn", "error")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("stream", [io.StringIO, _Tty])
@pytest.mark.parametrize("nl", [True, False])
def test_result_writes_the_bytes_click_echo_wrote(
    monkeypatch: pytest.MonkeyPatch, stream: type[io.StringIO], nl: bool
) -> None:
    for text in TEXTS:
        out = stream()
        monkeypatch.setattr(sys, "stdout", out)
        Application(quiet=True).result(text, nl=nl)
        expected = stream()
        monkeypatch.setattr(sys, "stdout", expected)
        click.echo(text, nl=nl)
        assert out.getvalue() == expected.getvalue(), text


def test_emit_prints_json_or_renders(capsys: pytest.CaptureFixture[str]) -> None:
    rendered: list[Any] = []
    data = {"job_id": "j1", "status": "completed", "count": 2}
    a = Application()
    a.emit(data, rendered.append, as_json=True)
    assert json.loads(capsys.readouterr().out) == data and rendered == []
    a.emit(data, rendered.append, as_json=False)
    assert capsys.readouterr().out == "" and rendered == [data]


def test_emit_json_is_print_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = {"job_id": "j1", "when": None, "items": [1, "é"]}
    a = Application()
    a.print_json(data)
    expected = capsys.readouterr().out
    a.emit(data, lambda _: None, as_json=True)
    assert capsys.readouterr().out == expected


@pytest.mark.parametrize(
    ("verbosity", "quiet", "shown"),
    [(0, False, {"info", "notice", "warn", "error"}), (1, False, {"info", "detail", "notice", "warn", "error"}),
     (2, False, {"info", "detail", "debug", "notice", "warn", "error"}), (2, True, {"notice", "warn", "error"})],
)
def test_levels_honour_quiet_and_verbose(
    capsys: pytest.CaptureFixture[str], verbosity: int, quiet: bool, shown: set[str]
) -> None:
    a = Application(verbosity=verbosity, quiet=quiet, color=False)
    for level in LEVELS:
        getattr(a, level)(f"{level} [b]note[/b]")
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert {level for level in LEVELS if f"{level} [b]note[/b]" in captured.err} == shown
    assert len(lines) == len(shown) and "Error: error [b]note[/b]" in lines and "Warning: warn [b]note[/b]" in lines


def test_no_color_writes_no_escape_codes(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    a = Application(color=False)
    a.warn("careful")
    a.error("broken")
    assert "\x1b[" not in capsys.readouterr().err


def test_commands_end_through_the_application() -> None:
    """No command prints around ``Application``: ``a.result`` replaces ``typer.echo``, ``a.emit`` the
    ``if as_json:`` endings (left: ``emit`` itself, and ``monitor metrics``, whose two outputs are two documents)."""
    from pathlib import Path

    import sccli.cli

    root = Path(sccli.cli.__file__).parent
    echoes, endings = [], []
    for path in sorted(root.glob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path.name}:{number}"
            echoes += [where] if "typer.echo(" in line else []
            endings += [path.name] if line.strip() == "if as_json:" else []
    assert echoes == []
    assert sorted(endings) == ["context.py", "monitor.py"]
