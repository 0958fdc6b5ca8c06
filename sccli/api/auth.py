"""Who is calling: bearer tokens and their roles, the browser session, and the start-up rule.

Tokens come from ``Settings.api_tokens`` (``{"name": "token"}``) and ``SC_API_TOKEN`` (name
``env``). Every presented token is compared with every configured one in constant time, so the
response time does not tell which token, or how much of one, matched. Each token has a role
from ``Settings.api_roles`` (``viewer``: read only; ``operator``: also create, retry and cancel;
operator when not given, as before roles existed).

A browser signs in once with a token and then carries a session cookie (see
:class:`SessionSigner`): signed with HMAC-SHA256 of a server secret, HttpOnly, SameSite=Strict,
and bound to the token it was issued for, so changing or removing a token ends its sessions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

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
#: Roles of a token: a viewer reads, an operator also acts (create, retry, cancel).
VIEWER, OPERATOR = "viewer", "operator"
ROLES = (VIEWER, OPERATOR)
#: The browser session's cookie and how long a sign-in lasts.
SESSION_COOKIE = "sc_session"
SESSION_SECONDS = 12 * 3600

bearer_scheme = HTTPBearer(auto_error=False, description="A token from settings api_tokens or SC_API_TOKEN.")


@dataclass(frozen=True)
class Identity:
    """A signed-in caller: the token's name and its role."""

    name: str
    role: str

    @property
    def actor(self) -> str:
        """The actor recorded for this caller's actions (``api:<token name>``)."""
        return f"api:{self.name}"

    @property
    def can_act(self) -> bool:
        return self.role == OPERATOR


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


def resolve_roles(settings: Settings, tokens: Mapping[str, str]) -> dict[str, str]:
    """The role of each token: ``api_roles`` entries, ``operator`` for the others.

    A role for a token that does not exist is refused (a misspelt name would otherwise leave
    the intended viewer an operator); ``env`` may be named even when ``SC_API_TOKEN`` is unset.
    """
    for name, role in settings.api_roles.items():
        if role not in ROLES:
            raise InvalidInput(f"settings: api_roles[{name!r}] must be one of {', '.join(ROLES)}, got {role!r}")
        if name not in tokens and name not in settings.api_tokens and name != ENV_TOKEN_NAME:
            raise InvalidInput(f"settings: api_roles names {name!r}, which is not a token of api_tokens")
    return {name: settings.api_roles.get(name, OPERATOR) for name in tokens}


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
        raise InvalidInput(
            f"no API token configured: set api_tokens in settings.json or {ENV_TOKEN}, or bind "
            "to 127.0.0.1 with --no-auth"
        )


def match_token(presented: str, tokens: Mapping[str, str]) -> str | None:
    """The name of the configured token equal to ``presented``, compared in constant time."""
    given = presented.encode("utf-8", "surrogateescape")
    found = None
    for name, token in tokens.items():
        if hmac.compare_digest(given, token.encode("utf-8")) and found is None:
            found = name
    return found


def identity_of(request: Request, name: str) -> Identity:
    """The identity of the token called ``name`` on this application."""
    roles: Mapping[str, str] = request.app.state.roles
    return Identity(name, roles.get(name, OPERATOR))


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status_code=401, detail=message, headers={"WWW-Authenticate": "Bearer"})


async def caller(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)
) -> Identity:
    """Dependency: the caller of a bearer-token request (401 when missing or wrong).

    ``async`` because it does no I/O: FastAPI then runs it on the event loop, not in a thread.
    """
    tokens: Mapping[str, str] = request.app.state.tokens
    if not tokens:  # --no-auth on loopback
        return Identity(ANONYMOUS, OPERATOR)
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("missing bearer token (Authorization: Bearer <token>)")
    name = match_token(credentials.credentials, tokens)
    if name is None:
        raise _unauthorized("invalid bearer token")
    return identity_of(request, name)


async def caller_name(identity: Identity = Depends(caller)) -> str:
    """Dependency: the name of the caller's token."""
    return identity.name


async def operator(identity: Identity = Depends(caller)) -> Identity:
    """Dependency: a caller allowed to act (403 for a ``viewer`` token)."""
    require_operator(identity)
    return identity


def require_operator(identity: Identity) -> None:
    """Refuse (403) a caller whose token is only a viewer."""
    if not identity.can_act:
        raise HTTPException(
            status_code=403,
            detail=f"token {identity.name!r} is a viewer: this action needs an operator token (settings api_roles)",
        )


# -- browser sessions -------------------------------------------------------------------------
@dataclass(frozen=True)
class Session:
    """A verified session cookie: who signed in, the session's id and when it ends."""

    identity: Identity
    session_id: str
    expires: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Issues and verifies session cookies and their CSRF tokens with one server secret.

    The cookie is ``base64(payload).base64(HMAC-SHA256(secret, payload))``; the payload names the
    token, a random session id, the expiry and a fingerprint of the token's value. The CSRF token
    of a session is an HMAC of its id, so it needs no storage and is checked in constant time.
    """

    def __init__(
        self, secret: bytes, tokens: Mapping[str, str], roles: Mapping[str, str], clock: Callable[[], float] = time.time
    ) -> None:
        self._secret = secret
        self._tokens = tokens
        self._roles = roles
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, tokens: Mapping[str, str], roles: Mapping[str, str]) -> SessionSigner:
        """A signer with ``api_session_secret``, or a random secret for this process's lifetime."""
        secret = settings.api_session_secret.encode("utf-8") if settings.api_session_secret else secrets.token_bytes(32)
        return cls(secret, tokens, roles)

    def _mac(self, purpose: str, data: bytes) -> bytes:
        return hmac.new(self._secret, purpose.encode() + b"|" + data, hashlib.sha256).digest()

    def _fingerprint(self, name: str) -> str:
        return _b64(self._mac("token", self._tokens.get(name, "").encode("utf-8"))[:12])

    def issue(self, name: str) -> str:
        """A fresh cookie value for the token called ``name``."""
        payload = {
            "n": name, "s": secrets.token_hex(16), "e": int(self._clock() + SESSION_SECONDS),
            "f": self._fingerprint(name),
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        return f"{_b64(body)}.{_b64(self._mac('session', body))}"

    def verify(self, value: str | None) -> Session | None:
        """The session of a cookie value; None when unsigned, tampered with, expired or stale."""
        if not value or value.count(".") != 1:
            return None
        body_text, mac_text = value.split(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
        except (ValueError, TypeError):
            return None
        if not hmac.compare_digest(mac, self._mac("session", body)):
            return None
        try:
            payload = json.loads(body)
            name, session_id, expires, fingerprint = (
                str(payload["n"]), str(payload["s"]), float(payload["e"]), str(payload["f"]),
            )
        except (ValueError, KeyError, TypeError):
            return None
        known = name in self._tokens or (not self._tokens and name == ANONYMOUS)
        if (
            not known
            or expires < self._clock()
            or not hmac.compare_digest(fingerprint.encode("utf-8", "surrogateescape"), self._fingerprint(name).encode())
        ):
            return None
        return Session(Identity(name, self._roles.get(name, OPERATOR)), session_id, expires)

    def csrf_token(self, session: Session) -> str:
        """The CSRF token of ``session`` (put in every form's hidden ``csrf`` field)."""
        return _b64(self._mac("csrf", session.session_id.encode())[:18])

    def check_csrf(self, session: Session, presented: str | None) -> bool:
        """True when ``presented`` is this session's CSRF token (constant-time comparison)."""
        return hmac.compare_digest(
            (presented or "").encode("utf-8", "surrogateescape"), self.csrf_token(session).encode()
        )


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site (Origin, Sec-Fetch-Site).

    A request without those headers (an old browser, a script) passes here and must still carry
    the CSRF token; ``Origin: null`` (sandboxed frames, some redirects) is refused.
    """
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin != "null" and urlsplit(origin).netloc.lower() == host.lower()
