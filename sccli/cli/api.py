"""``sc api``: serve the HTTP API (needs the ``api`` extra: FastAPI and uvicorn)."""

from __future__ import annotations

from typing import Annotated

import typer

from sccli.cli.context import Application
from sccli.errors import InvalidInput, MissingExtra, ScError

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")

app = typer.Typer(
    help="Serve the HTTP API (/api/v1), the web dashboard (/) and Prometheus metrics (/metrics).", no_args_is_help=True
)


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; anything but loopback needs a token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8080,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Serve without tokens (only allowed on a loopback address).")
    ] = False,
    log_level: Annotated[
        str,
        typer.Option(
            "--log-level", help="Log level: critical, error, warning, info (an access line per request), debug."
        ),
    ] = "info",
    log_json: Annotated[
        bool,
        typer.Option(
            "--log-json", help="Log one JSON object per line (access lines: method, path, status, token_name)."
        ),
    ] = False,
) -> None:
    """Serve the API and the dashboard until interrupted (exit 0 after SIGTERM).

    Tokens come from settings api_tokens or SC_API_TOKEN; api_roles makes a token a viewer.
    The dashboard is at http://HOST:PORT/, the API at /api/v1, Prometheus metrics at /metrics.

    \b
    Example: sc --db sqlite:///sc.db api serve --port 8080 --log-json
    """
    a: Application = ctx.obj
    if log_level.lower() not in LOG_LEVELS:
        raise InvalidInput(f"--log-level must be one of {', '.join(LOG_LEVELS)}, got {log_level[:40]!r}")
    if a.verbosity:
        from sccli.store import describe_store

        a.info(describe_store(a.target))
    try:
        from sccli import api
    except ImportError as exc:
        raise MissingExtra(
            f"sc api serve needs the api extra ({exc.name} is missing): pip install 'sccli[api]'"
        ) from None
    settings = a.settings
    tokens = {} if no_auth else api.resolve_tokens(settings)
    api.check_can_serve(host, tokens, no_auth)
    _check_port_free(host, port)
    if no_auth and (settings.api_tokens or _env_token()):
        a.warn("--no-auth: the configured API tokens are ignored")
    application = api.create_app(a.db_url, a.db_name, settings, tokens, allow_anonymous=no_auth)
    store = application.state.api.store
    try:
        store.ping()
    except ScError as exc:
        a.warn(f"{exc} (serving anyway: /api/v1/health answers 503 until the store is back)")
    roles = application.state.roles
    auth = (
        "none (--no-auth)"
        if no_auth
        else f"{len(tokens)} bearer token(s): {', '.join(f'{n} ({roles[n]})' for n in sorted(tokens))}"
    )
    shown = f"[{host}]" if ":" in host else host
    banner = (f"sc api: dashboard http://{shown}:{port}/ · API docs http://{shown}:{port}{api.DOCS_URL}"
              f" · store {store.display_url} · auth {auth}")
    if not log_json:  # with --log-json every stderr line is a JSON object: the banner is logged as one
        a.notice(banner)
    api.serve(application, host, port, log_level=log_level.lower(), log_json=log_json,
              banner=banner if log_json else None)


def _check_port_free(host: str, port: int) -> None:
    """Refuse with one line (exit 5) instead of uvicorn's log when the port is taken."""
    import errno
    import socket

    from sccli.errors import Conflict

    if not host.strip():
        raise InvalidInput("--host is empty (give an address, e.g. 127.0.0.1)")

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except (socket.gaierror, ValueError, UnicodeError) as exc:  # not an address: bad input, not a busy port
            raise InvalidInput(
                f"--host {host[:80]!r} is not an address this machine has: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                raise InvalidInput(f"--host {host[:80]!r} is not an address of this machine") from None
            raise Conflict(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _env_token() -> bool:
    import os

    return bool(os.environ.get("SC_API_TOKEN"))
