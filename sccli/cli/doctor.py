"""``sc doctor``: one command that checks the installation and the store and explains the fixes."""

from __future__ import annotations

import typer

from sccli.cli.context import Application
from sccli.cli.options import JsonOpt

app = typer.Typer(help="Check the store, schema, settings, directories, tools and services, and say how to fix what fails.")

MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}
STYLES = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


@app.command("doctor")
def doctor(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Check which store is used and that it answers, its schema and indexes, the settings, the data
    directories, the tools (rsync, rclone, 7z, unzip, OpenVisus), the services, the clock and
    what is paused; print the fix of each failed check. Exit 0 when nothing failed, else 1.

    \b
    Example: sc --settings /etc/sccli/settings.json doctor
    """
    from sccli.doctor import diagnose, healthy

    a: Application = ctx.obj
    checks = diagnose(lambda: a.store, lambda: a.settings)
    ok = healthy(checks)
    if as_json:
        a.print_json({"ok": ok, "checks": [c.as_dict() for c in checks]})
    else:
        out = a.console
        width = max(len(c.name) for c in checks)
        for check in checks:
            out.print(f"[{MARKS[check.level]}] {check.name.ljust(width)}  {check.detail}", style=STYLES[check.level], markup=False, highlight=False)
            if check.fix and check.level in ("fail", "warn"):
                out.print(f"       {' ' * width}  fix: {check.fix}", markup=False, highlight=False)
        failed = sum(c.level == "fail" for c in checks)
        a.info("all checks passed" if ok else f"{failed} check(s) failed")
    if not ok:
        raise typer.Exit(1)
