"""The web dashboard served by ``sc api serve`` at ``/`` (the JSON API stays at ``/api/v1``).

Server-rendered HTML (Jinja2) over the same core as the CLI and the API, with the same tokens:
a browser signs in once with a token and carries a signed session cookie; actions are
CSRF-checked POSTs for ``operator`` tokens. The only script is htmx (vendored in ``static/``),
which refreshes the overview and a running job's progress in place.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from sccli.errors import ScError

STATIC = Path(__file__).parent / "static"


def install_dashboard(app: FastAPI) -> None:
    """Add the dashboard's pages, actions, static files and error pages to ``app``."""
    try:
        import jinja2  # noqa: F401
    except ImportError:
        from sccli.errors import MissingExtra

        raise MissingExtra("the dashboard needs jinja2, part of the api extra: pip install 'sccli[api]'") from None
    from sccli.api.dashboard.actions import actions
    from sccli.api.dashboard.controls import controls
    from sccli.api.dashboard.pages import pages
    from sccli.api.dashboard.schedules import schedule_pages
    from sccli.api.dashboard.web import ActionRefused, SignInRequired, access, sign_in_redirect

    app.include_router(access)
    app.include_router(pages)
    app.include_router(actions)
    app.include_router(controls)
    app.include_router(schedule_pages)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    async def on_sign_in(request: Request, error: Exception) -> Response:
        assert isinstance(error, SignInRequired)
        return sign_in_redirect(request, error)

    async def on_refused(request: Request, error: Exception) -> Response:
        return _error_page(request, 403, "Refused", str(error))

    async def on_sc_error(request: Request, error: Exception) -> Response:
        from sccli.api.errors import error_response, status_of

        assert isinstance(error, ScError)
        if request.url.path.startswith(("/api/", "/metrics")):
            return error_response(error)
        return _error_page(request, status_of(error), type(error).__name__, str(error))

    app.add_exception_handler(SignInRequired, on_sign_in)
    app.add_exception_handler(ActionRefused, on_refused)
    app.add_exception_handler(ScError, on_sc_error)


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    from sccli.api.auth import SESSION_COOKIE
    from sccli.api.dashboard.render import html_response

    sessions = request.app.state.sessions
    session = sessions.verify(request.cookies.get(SESSION_COOKIE))
    identity = session.identity if session else None
    csrf = sessions.csrf_token(session) if session else ""
    return html_response("error.html", status, identity=identity, csrf=csrf, title=title, message=message)


__all__ = ["install_dashboard"]
