"""``sc doctor``: one command that checks the installation and the store and explains the fixes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from sccli.cli.context import Application
from sccli.cli.options import JsonOpt

if TYPE_CHECKING:
    from sccli.doctor import Check
    from sccli.settings import Settings
    from sccli.store.base import Store
    from sccli.store.urls import StoreTarget

app = typer.Typer(
    help="Check the store, schema, settings, directories, tools and services, and say how to fix what fails."
)

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
    from sccli.doctor import healthy

    a: Application = ctx.obj
    checks = _diagnose(a)
    ok = healthy(checks)
    report = {"ok": ok, "checks": [c.as_dict() for c in checks]}
    a.emit(report, lambda _: _print_checks(a, checks, ok), as_json=as_json)
    if not ok:
        raise typer.Exit(1)


def _print_checks(a: Application, checks: list[Check], ok: bool) -> None:
    out = a.console
    width = max(len(c.name) for c in checks)
    for check in checks:
        line = f"[{MARKS[check.level]}] {check.name.ljust(width)}  {check.detail}"
        out.print(line, style=STYLES[check.level], markup=False, highlight=False)
        if check.fix and check.level in ("fail", "warn"):
            out.print(f"       {' ' * width}  fix: {check.fix}", markup=False, highlight=False)
    failed = sum(c.level == "fail" for c in checks)
    a.info("all checks passed" if ok else f"{failed} check(s) failed")


def _diagnose(a: Application) -> list[Check]:
    """Run the checks. The store is resolved with the settings doctor could read (the defaults when
    it could not), so a missing settings file is one settings failure, not a store failure too."""
    from sccli.doctor import diagnose
    from sccli.store import open_target
    from sccli.store.urls import resolve_store_target

    def target(settings: Settings) -> StoreTarget:
        return resolve_store_target(a.db_url, a.db_name, settings)

    opened: list[Store] = []

    def open_store(settings: Settings) -> Store:
        opened.append(open_target(target(settings), create=False))
        return opened[-1]

    try:
        return diagnose(open_store, lambda: a.settings, target)
    finally:
        for store in opened:
            store.close()
