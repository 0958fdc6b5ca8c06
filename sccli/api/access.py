"""One access log line per HTTP request: method, path, status, duration, client and the token's
name (never the token itself, nor the query string, which may carry anything).

A plain ASGI middleware on the ``sccli.api.access`` logger at INFO: ``sc api serve --log-json``
makes each line a JSON object with the fields method, path, status, duration_s, client and
token_name (``-`` without credentials, ``invalid`` for a bearer token that matches none).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sccli.api.auth import SESSION_COOKIE, match_token
from sccli.api.guards import ASGIApp, Message, Receive, Scope, Send, _header

log = logging.getLogger("sccli.api.access")


class AccessLog:
    """Logs every HTTP request once its response has started (or failed)."""

    def __init__(self, app: ASGIApp, *, outer: Any) -> None:
        self.app = app
        self.outer = outer  # the FastAPI app: its tokens and session signer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.monotonic(), [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self._log(scope, status[0], time.monotonic() - started)

    def _log(self, scope: Scope, status: int, seconds: float) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        client = scope.get("client")
        fields = {
            "method": scope.get("method", "?"),
            "path": scope.get("path", "?"),
            "status": status,
            "duration_s": round(seconds, 4),
            "client": client[0] if client else "-",
            "token_name": self.token_name(scope),
        }
        log.info(
            "%s %s %s %.1fms token=%s client=%s",
            fields["method"],
            fields["path"],
            status,
            seconds * 1000,
            fields["token_name"],
            fields["client"],
            extra=fields,
        )

    def token_name(self, scope: Scope) -> str:
        """The name of the caller's token: from its bearer header, else from its dashboard session."""
        tokens = getattr(self.outer.state, "tokens", None) or {}
        header = _header(scope, b"authorization")
        if header:
            scheme, _, presented = header.partition(" ")
            if scheme.lower() != "bearer" or not tokens:
                return "-"
            return match_token(presented.strip(), tokens) or "invalid"
        cookie = _cookie(_header(scope, b"cookie"), SESSION_COOKIE)
        sessions = getattr(self.outer.state, "sessions", None)
        session = sessions.verify(cookie) if cookie and sessions is not None else None
        return session.identity.name if session is not None else "-"


def _cookie(header: str | None, name: str) -> str | None:
    for part in (header or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def install_access_log(app: Any) -> None:
    """Log each request of ``app`` (added last: the outermost middleware, so refusals are logged too)."""
    app.add_middleware(AccessLog, outer=app)
