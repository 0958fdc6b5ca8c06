"""Write docs/reference/commands.md from the Typer app itself (`make docs-reference`).

Every command of `sc` gets a section: its usage line, its help text and a table of its arguments and
options. The page is generated, never edited by hand; tests/cli/test_docs.py checks it has not drifted.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "reference" / "commands.md"

HEADER = """# Command reference

Generated from the `sc` app by `scripts/gen_command_reference.py` (`make docs-reference`); do not
edit by hand. Every command also prints this with `--help`. Global options go before the command
(`sc --db URL job list`); exit codes are in [Getting started](../getting-started.md#exit-codes).
"""


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command of the tree, depth first in the app's order (lazy groups included)."""
    import typer

    yield path, command
    if hasattr(command, "list_commands"):
        ctx = typer.Context(command)
        for name in command.list_commands(ctx):
            yield from walk(command.get_command(ctx, name), (*path, name))


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell (no pipes, no line breaks, no raw HTML)."""
    text = " ".join(text.split()).replace("|", "\\|")
    return text.replace("<", "&lt;").replace(">", "&gt;")


def param_row(ctx: Any, param: Any) -> str | None:
    """One table row for an argument or option; None for hidden ones."""
    if getattr(param, "hidden", False):
        return None
    if param.param_type_name == "argument":
        name = f"`{param.human_readable_name}`"
    else:
        name = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
    kind = param.make_metavar(ctx) if param.param_type_name == "argument" else _option_kind(param)
    default = _default(param)
    return f"| {name} | {cell(kind)} | {cell(default)} | {cell(param.help or '')} |"


def _option_kind(param: Any) -> str:
    if param.is_flag:
        return "flag"
    choices = getattr(param.type, "choices", None)
    kind = "|".join(str(c) for c in choices) if choices else param.type.name.upper()
    low, high = getattr(param.type, "min", None), getattr(param.type, "max", None)
    if low is not None or high is not None:  # a range: say it, as --help would refuse outside it
        bounds = f"{'' if low is None else low}..{'' if high is None else high}"
        kind = f"{param.type.name.split()[0].upper()} {bounds}"
    return f"{kind} (repeatable)" if param.multiple else kind


def _default(param: Any) -> str:
    if param.required:
        return "required"
    hidden = getattr(param, "show_default", None) is False or getattr(param, "is_flag", False)
    if hidden or param.default in (None, (), []):
        return ""
    return str(getattr(param.default, "value", param.default))  # an enum member shows its value


def help_block(command: Any) -> list[str]:
    """The command's help as Typer prints it (without Click's ``\\b`` no-rewrap markers)."""
    text = "\n".join(line.rstrip() for line in (command.help or "").strip().replace("\b\n", "").splitlines())
    return ["```text", text, "```", ""] if text else []


def section(path: tuple[str, ...], command: Any) -> str:
    """The Markdown of one command, or of the root's global options when ``path`` is empty."""
    import typer

    ctx = typer.Context(command, info_name=" ".join(("sc", *path)))
    if not path:
        lines = ["## Global options", ""]
    else:
        heading = f"{'##' if len(path) == 1 else '###'} `sc {' '.join(path)}`"
        usage = f"{ctx.command_path} {' '.join(command.collect_usage_pieces(ctx))}"
        lines = [heading, "", "```text", usage, "```", "", *help_block(command)]
    rows = [r for r in (param_row(ctx, p) for p in command.params) if r]
    if rows:
        lines += ["| argument or option | value | default | meaning |", "| --- | --- | --- | --- |", *rows, ""]
    return "\n".join(lines)


def render() -> str:
    """The whole page."""
    import typer.main

    sys.path.insert(0, str(ROOT))
    from sccli.cli.app import app

    root = typer.main.get_command(app)
    parts = [HEADER]
    for path, command in walk(root):
        if not path:
            parts.append(section(path, command))
        elif hasattr(command, "list_commands"):
            parts.append(f"## `sc {' '.join(path)}`\n\n{cell(command.help or '')}\n")
        else:
            parts.append(section(path, command))
    return "\n".join(parts).rstrip() + "\n"


def main() -> None:
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(render())
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
