"""Docs stay honest: every command has help and is in README.md; completions match the app."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import typer.main

from sccli.cli.app import app

ROOT = Path(__file__).resolve().parents[2]


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command of the tree, lazy groups included (through list_commands/get_command)."""
    yield path, command
    if hasattr(command, "list_commands"):
        ctx = typer.Context(command)
        for name in command.list_commands(ctx):
            yield from walk(command.get_command(ctx, name), (*path, name))


def is_group(command: Any) -> bool:
    return hasattr(command, "list_commands")


def leaf_commands() -> list[tuple[tuple[str, ...], Any]]:
    root = typer.main.get_command(app)
    return [(p, c) for p, c in walk(root) if p and not is_group(c)]


def test_every_command_has_help_text() -> None:
    root = typer.main.get_command(app)
    missing = [" ".join(p) for p, c in walk(root) if p and not (c.help or c.short_help)]
    assert missing == []


def test_lazy_group_summaries_match_the_groups() -> None:
    import importlib

    from sccli.cli.app import GROUPS

    for name, (module, summary) in GROUPS.items():
        assert importlib.import_module(module).app.info.help == summary, name


def test_every_command_appears_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [" ".join(p) for p, _ in leaf_commands() if f"`sc {' '.join(p)}" not in readme]
    assert missing == [], f"commands missing from README.md: {missing}"


def test_every_command_has_json_output() -> None:
    exempt = {("service", "run"), ("api", "serve"), ("service", "stop")}
    without = [" ".join(p) for p, c in leaf_commands() if p not in exempt and not any("--json" in getattr(o, "opts", []) for o in c.params)]
    assert without == []


def test_completions_match_what_the_app_generates() -> None:
    files = {"bash": "sc.bash", "zsh": "_sc", "fish": "sc.fish"}
    for shell, name in files.items():
        env = {**os.environ, "_SC_COMPLETE": f"source_{shell}"}
        cmd = [sys.executable, "-c", "from sccli.cli.app import app; app(prog_name='sc')"]
        generated = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout.lstrip("\n")
        assert (ROOT / "completions" / name).read_text() == generated, f"run `make completions` ({name} drifted)"


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed (Debian: zsh)")
def test_zsh_file_autoloads_from_fpath(tmp_path: Path) -> None:
    """``_sc`` in a directory of ``$fpath`` is picked up by ``compinit``: its first line is ``#compdef sc``."""
    assert (ROOT / "completions" / "_sc").read_text().startswith("#compdef sc\n")
    script = f"fpath=({ROOT / 'completions'} $fpath); autoload -Uz compinit; compinit -u -d {tmp_path}/zcompdump; print -r -- $_comps[sc]"
    out = subprocess.run(["zsh", "-f", "-c", script], capture_output=True, text=True, timeout=60, env={"HOME": str(tmp_path), "PATH": os.environ["PATH"]})
    assert out.stdout.strip() == "_sc", out.stderr


def test_bash_completion_offers_subcommands() -> None:
    env = {**os.environ, "_SC_COMPLETE": "complete_bash", "COMP_WORDS": "sc job ", "COMP_CWORD": "2"}
    cmd = [sys.executable, "-c", "from sccli.cli.app import app; app(prog_name='sc')"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True).stdout.split()
    assert {"create", "show", "list", "retry", "cancel"} <= set(out)


def test_help_does_not_import_heavy_modules() -> None:
    heavy = ('pymongo', 'numpy', 'fastapi', 'sqlite3', 'mongomock', 'prometheus_client')
    code = f"import sys; from sccli.cli.app import app; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_every_command_help_ends_with_an_example() -> None:
    def last_line(command: Any) -> str:
        lines = [line.strip() for line in (command.help or "").strip().splitlines() if line.strip()]
        return lines[-1] if lines else ""

    without = [" ".join(p) for p, c in leaf_commands() if not last_line(c).startswith("Example: sc ")]
    assert without == [], f"commands whose help does not end with 'Example: sc ...': {without}"


def test_no_short_flag_means_two_things() -> None:
    meanings: dict[str, set[str]] = {}
    for _, command in leaf_commands():
        for param in command.params:
            opts = getattr(param, "opts", [])
            longs = [o for o in opts if o.startswith("--")]
            for short in (o for o in opts if len(o) == 2 and o.startswith("-")):
                meanings.setdefault(short, set()).update(longs)
    assert {s: m for s, m in meanings.items() if len(m) > 1} == {}
