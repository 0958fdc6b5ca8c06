"""``sc notify``: push notifications to webhooks (settings ``notify``)."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from sccli.cli.context import Application
from sccli.cli.options import JsonOpt

app = typer.Typer(
    help="Push notifications to webhooks (settings notify): send a test message.",
    no_args_is_help=True,
    epilog=(
        "\b\nExamples:\n  sc notify test\n  sc notify test --target ops\n"
        "Settings and signatures: docs/notifications.md"
    ),
)


@app.command("test")
def test(
    ctx: typer.Context,
    target: Annotated[
        Optional[str], typer.Option("--target", help="Target name (none: every target).", show_default=False)
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Send a sample notification to the webhook targets once; exit 0 when each answered 2xx.

    \b
    Example: sc --settings /etc/sccli/settings.json notify test --target ops
    """
    from dataclasses import asdict

    from sccli.clock import utcnow
    from sccli.notify.webhook import send_sample

    a: Application = ctx.obj
    results = send_sample(a.settings.notify, target, utcnow())
    a.emit([asdict(r) for r in results], lambda sent: _print_sent(a, sent), as_json=as_json)


def _print_sent(a: Application, results: list[dict[str, Any]]) -> None:
    for r in results:
        a.result(f"sent to {r['target']}: HTTP {r['status']}")
