"""What the API refuses before any handler runs: foreign Host names and oversized bodies.

Both are plain ASGI middleware (no per-request task or body copy beyond the limit):

- :class:`LoopbackHostGuard` (installed for ``--no-auth`` servers): a page on another site can
  point its own DNS name at 127.0.0.1 ("DNS rebinding") and then script the open API through
  the victim's browser. Its requests carry that foreign name in ``Host``, so only loopback names
  are answered; the rest get 403.
- :class:`BodySizeLimit`: a body above ``api_max_body_bytes`` gets 413, from its
  ``Content-Length`` when it has one, else by counting streamed bytes: the server never holds
  more than the limit of one request in memory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Host names a loopback-only server answers to (with any port).
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
_PORT = re.compile(r":\d{1,5}$")


def host_name(header: str) -> str:
    """The name part of a Host header (``[::1]:8080`` → ``[::1]``, ``LocalHost.`` → ``localhost``)."""
    name = _PORT.sub("", header.strip()).lower()
    return name[:-1] if name.endswith(".") else name


def is_loopback_host(header: str | None) -> bool:
    """True when a Host header names this machine's loopback interface."""
    return header is not None and host_name(header) in LOOPBACK_NAMES


async def _refuse(send: Send, status: int, detail: str, extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra_headers or [])})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class LoopbackHostGuard:
    """403 for every HTTP request whose ``Host`` is not ``localhost``, ``127.0.0.1`` or ``[::1]``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not is_loopback_host(_header(scope, b"host")):
            shown = (_header(scope, b"host") or "(none)")[:100]
            await _refuse(
                send,
                403,
                f"Host {shown!r} is not a loopback name: a --no-auth server answers only "
                "localhost, 127.0.0.1 and [::1]",
            )
            return
        await self.app(scope, receive, send)


class BodySizeLimit:
    """413 for a request body over ``max_bytes``, before the application reads it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await _refuse(send, 400, f"Content-Length {declared[:40]!r} is not a number of bytes")
                return
            if int(declared) > self.max_bytes:
                await self._too_large(send)
                return
        messages, size = [], 0
        while True:  # read what the client streams, at most the limit (chunked bodies have no length)
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._too_large(send)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(messages, receive), send)

    async def _too_large(self, send: Send) -> None:
        await _refuse(send, 413, f"request body is larger than {self.max_bytes} bytes (setting api_max_body_bytes)")


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that hands out the buffered body first, then the client's own messages."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


def install_guards(app: Any, *, loopback_only: bool, max_body_bytes: int) -> None:
    """Wrap ``app`` (FastAPI) in the body limit and, for a ``--no-auth`` server, the Host check."""
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    if loopback_only:
        app.add_middleware(LoopbackHostGuard)  # added last: runs first, before any body is read
