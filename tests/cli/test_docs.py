"""Docs stay honest: every command has help and is in the generated command reference, the reference
and the completions match the app, and the docs site builds with ``mkdocs build --strict``."""

from __future__ import annotations

import importlib.util
import os
import re
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


def generated_reference() -> str:
    """What ``scripts/gen_command_reference.py`` writes today, in a process of its own (as ``make``)."""
    code = "import runpy; m = runpy.run_path('scripts/gen_command_reference.py'); print(m['render'](), end='')"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_command_reference_matches_what_the_app_generates() -> None:
    committed = (ROOT / "docs" / "reference" / "commands.md").read_text()
    assert committed == generated_reference(), "run `make docs-reference` (docs/reference/commands.md drifted)"


def test_every_command_is_in_the_command_reference_with_its_help() -> None:
    reference = (ROOT / "docs" / "reference" / "commands.md").read_text()
    sections = {s.split("`", 1)[0]: s for s in reference.split("## `sc ")[1:]}
    missing = [" ".join(p) for p, _ in leaf_commands() if " ".join(p) not in sections]
    assert missing == [], f"commands missing from docs/reference/commands.md: {missing}"
    for path, command in leaf_commands():
        summary = (command.help or "").strip().splitlines()[0]
        assert summary and summary in sections[" ".join(path)], f"sc {' '.join(path)}: its help is not in the reference"


def test_readme_keeps_the_two_set_up_commands_and_links_to_existing_pages() -> None:
    readme = (ROOT / "README.md").read_text()
    demo = "    make demo    # creates .venv, installs, runs the main job end to end on the embedded SQLite store\n"
    test = "    make test    # creates .venv, installs with test extras, runs the whole test suite\n"
    assert demo in readme and test in readme
    links = re.findall(r"\]\(((?:docs|bench)/[^)#]+)", readme)
    assert links and [link for link in links if not (ROOT / link).is_file()] == []


def mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` (never --quiet: strict mode counts the warnings that are logged)."""
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "--site-dir", str(site)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240)


needs_mkdocs = pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None,
                                  reason="mkdocs is not installed (the test extra)")


@needs_mkdocs
def test_docs_site_builds_strict(tmp_path: Path) -> None:
    out = mkdocs_build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "site" / "life-of-a-job" / "index.html").is_file()


@needs_mkdocs
@pytest.mark.parametrize("breakage", ["a page missing from the nav", "a broken link", "a broken anchor"])
def test_docs_build_fails_on(breakage: str, tmp_path: Path) -> None:
    """The configuration really makes ``--strict`` fail on each breakage (a copy of the docs, one fault)."""
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    if breakage == "a page missing from the nav":
        (tmp_path / "docs" / "orphan.md").write_text("# Not in the nav\n")
    else:
        target = "no-such-page.md" if breakage == "a broken link" else "store.md#no-such-heading"
        with (tmp_path / "docs" / "index.md").open("a") as page:
            page.write(f"\nSee [this]({target}).\n")
    out = mkdocs_build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert out.returncode != 0 and "Aborted" in out.stderr + out.stdout, out.stderr


def test_every_command_has_json_output() -> None:
    exempt = {("service", "run"), ("api", "serve"), ("service", "stop")}
    without = [
        " ".join(p)
        for p, c in leaf_commands()
        if p not in exempt and not any("--json" in getattr(o, "opts", []) for o in c.params)
    ]
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
    script = (
        f"fpath=({ROOT / 'completions'} $fpath); autoload -Uz compinit; compinit -u -d "
        f"{tmp_path}/zcompdump; print -r -- $_comps[sc]"
    )
    out = subprocess.run(
        ["zsh", "-f", "-c", script], capture_output=True, text=True, timeout=60,
        env={"HOME": str(tmp_path), "PATH": os.environ["PATH"]},
    )
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
