"""Access to the dashboard: the session a page needs, the checks an action needs, sign-in/out.

A page needs a valid session cookie (else a redirect to ``/login``). An action (every POST)
also needs the request to come from this site (``Origin``/``Sec-Fetch-Site``), the session's
CSRF token in the form's ``csrf`` field, and an ``operator`` token; each refusal is a 403 page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sccli.api.auth import (
    ANONYMOUS,
    SESSION_COOKIE,
    SESSION_SECONDS,
    Identity,
    Session,
    SessionSigner,
    match_token,
    same_origin,
)
from sccli.api.dashboard.render import html_response
from sccli.api.routes import ApiState, api_state

#: Most bytes of a form the dashboard reads (a bulk action of 500 job ids fits easily).
MAX_FORM_BYTES = 256 * 1024


class SignInRequired(Exception):
    """No valid session: the browser is sent to the sign-in page (htmx gets ``HX-Redirect``)."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class ActionRefused(Exception):
    """An action refused before it ran (403): cross-site, no CSRF token, or a viewer token."""


@dataclass
class Page:
    """What every page and action handler gets: the core, the session and its CSRF token."""

    state: ApiState
    session: Session
    csrf: str

    @property
    def identity(self) -> Identity:
        return self.session.identity

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        """The template as an HTML response, with what the layout needs (who, role, CSRF)."""
        return html_response(template, status_code, identity=self.identity, csrf=self.csrf, **context)


def signer(request: Request) -> SessionSigner:
    return request.app.state.sessions


def _here(request: Request) -> str:
    # htmx fragments are not pages to come back to: return to the page that polled them.
    if request.headers.get("hx-request"):
        current = urlsplit(request.headers.get("hx-current-url") or "/")
        return current.path + (f"?{current.query}" if current.query else "")
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


async def page(request: Request, state: Annotated[ApiState, Depends(api_state)]) -> Page:
    """Dependency of every page: the signed-in session (else :class:`SignInRequired`)."""
    sessions = signer(request)
    session = sessions.verify(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise SignInRequired(_here(request))
    return Page(state, session, sessions.csrf_token(session))


async def read_form(request: Request) -> dict[str, list[str]]:
    """The urlencoded form of a POST, each field's values in order (other bodies: refused)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise ActionRefused("actions are HTML form posts (application/x-www-form-urlencoded)")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise ActionRefused(f"form larger than {MAX_FORM_BYTES // 1024} KiB")
    fields: dict[str, list[str]] = {}
    for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        fields.setdefault(key, []).append(value)
    return fields


@dataclass
class Action(Page):
    """An action's page context plus its form."""

    form: dict[str, list[str]]

    def field(self, name: str, default: str = "") -> str:
        values = self.form.get(name)
        return values[0] if values else default


async def action(request: Request, current: Annotated[Page, Depends(page)]) -> Action:
    """Dependency of every POST: same site, the session's CSRF token, an operator."""
    if not same_origin(request):
        raise ActionRefused("refused: the request did not come from this dashboard (Origin)")
    form = await read_form(request)
    if not signer(request).check_csrf(current.session, (form.get("csrf") or [""])[0]):
        raise ActionRefused("refused: missing or wrong CSRF token; reload the page and try again")
    if not current.identity.can_act:
        raise ActionRefused(
            f"refused: token {current.identity.name!r} is a viewer; retry and cancel need an operator token"
        )
    return Action(current.state, current.session, current.csrf, form)


def safe_next(target: str | None) -> str:
    """A local path to return to after signing in (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


access = APIRouter(include_in_schema=False)


@access.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/") -> HTMLResponse:
    """The sign-in form: one field for an API token (none under ``--no-auth``)."""
    return html_response(
        "login.html", next=safe_next(next), anonymous=not request.app.state.tokens, error=None, identity=None, csrf=""
    )


@access.post("/login", response_model=None)
async def login(request: Request) -> Response:
    """Check the token and set the session cookie (303 to the page asked for)."""
    if not same_origin(request):
        raise ActionRefused("refused: the sign-in did not come from this dashboard (Origin)")
    form = await read_form(request)
    target = safe_next((form.get("next") or ["/"])[0])
    tokens = request.app.state.tokens
    name = ANONYMOUS if not tokens else match_token((form.get("token") or [""])[0].strip(), tokens)
    if name is None:
        return html_response(
            "login.html", 401, next=target, anonymous=False, error="That token is not valid.", identity=None, csrf=""
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, signer(request).issue(name), max_age=SESSION_SECONDS, httponly=True,
        samesite="strict", secure=request.url.scheme == "https", path="/",
    )
    return response


@access.post("/logout", response_model=None)
async def logout(request: Request, current: Annotated[Page, Depends(page)]) -> Response:
    """End the session (CSRF-checked like every action, but open to viewers)."""
    form = await read_form(request)
    if not same_origin(request) or not signer(request).check_csrf(current.session, (form.get("csrf") or [""])[0]):
        raise ActionRefused("refused: missing or wrong CSRF token")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def sign_in_redirect(request: Request, error: SignInRequired) -> Response:
    """The answer to a request without a session: 303 to ``/login?next=...`` (htmx: HX-Redirect)."""
    target = "/login?next=" + quote(safe_next(error.next_path), safe="/")
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    if request.method != "GET":
        return html_response(
            "error.html", 401, identity=None, csrf="", title="Sign in first",
            message="Your session ended; sign in again.",
        )
    return RedirectResponse(target, status_code=303)
