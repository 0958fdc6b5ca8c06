"""Bearer-token authentication of the API and the rule for when the server may start.

Tokens come from ``Settings.api_tokens`` (``{"name": "token"}``) and ``SC_API_TOKEN`` (name
``env``). Every presented token is compared with every configured one in constant time, so the
response time does not tell which token, or how much of one, matched.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Mapping

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sccli.errors import InvalidInput
from sccli.settings import Settings

ENV_TOKEN = "SC_API_TOKEN"
ENV_TOKEN_NAME = "env"
#: The caller's name when the server runs with ``--no-auth``.
ANONYMOUS = "anonymous"
#: Shortest token accepted (a token is a password).
MIN_TOKEN_LENGTH = 16

bearer_scheme = HTTPBearer(auto_error=False, description="A token from settings api_tokens or SC_API_TOKEN.")


def resolve_tokens(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The configured tokens by name: settings' ``api_tokens`` plus ``SC_API_TOKEN`` as ``env``."""
    environ = os.environ if environ is None else environ
    tokens = dict(settings.api_tokens)
    if environ.get(ENV_TOKEN):
        tokens[ENV_TOKEN_NAME] = environ[ENV_TOKEN]
    for name, token in tokens.items():
        if not isinstance(token, str) or len(token) < MIN_TOKEN_LENGTH:
            raise InvalidInput(f"API token {name!r} must be a string of at least {MIN_TOKEN_LENGTH} characters")
    return tokens


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_can_serve(host: str, tokens: Mapping[str, str], no_auth: bool) -> None:
    """Refuse to start an open server: without a token only loopback with ``--no-auth`` is allowed."""
    if no_auth and not is_loopback(host):
        raise InvalidInput(f"--no-auth is only allowed on a loopback address (127.0.0.1, ::1, localhost), not {host}")
    if not no_auth and not tokens:
        raise InvalidInput(f"no API token configured: set api_tokens in settings.json or {ENV_TOKEN}, or bind to 127.0.0.1 with --no-auth")


def match_token(presented: str, tokens: Mapping[str, str]) -> str | None:
    """The name of the configured token equal to ``presented``, compared in constant time."""
    given = presented.encode("utf-8", "surrogateescape")
    found = None
    for name, token in tokens.items():
        if hmac.compare_digest(given, token.encode("utf-8")) and found is None:
            found = name
    return found


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status_code=401, detail=message, headers={"WWW-Authenticate": "Bearer"})


async def caller_name(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)) -> str:
    """Dependency: the name of the caller's token (401 when missing or wrong).

    ``async`` because it does no I/O: FastAPI then runs it on the event loop, not in a thread.
    """
    tokens: Mapping[str, str] = request.app.state.tokens
    if not tokens:  # --no-auth on loopback
        return ANONYMOUS
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("missing bearer token (Authorization: Bearer <token>)")
    name = match_token(credentials.credentials, tokens)
    if name is None:
        raise _unauthorized("invalid bearer token")
    return name
