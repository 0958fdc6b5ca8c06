"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from sccli import __version__
from sccli.api.access import install_access_log
from sccli.api.auth import SessionSigner, check_can_serve, resolve_roles
from sccli.api.dashboard import install_dashboard
from sccli.api.errors import install_error_handlers
from sccli.api.guards import install_guards
from sccli.api.routes import API_ACTOR, ApiState, health, jobs, scrape
from sccli.api.schedule_routes import schedules
from sccli.errors import InvalidInput
from sccli.queue import JobQueue
from sccli.settings import Settings
from sccli.store import open_target, resolve_store_target

OPENAPI_URL = "/api/v1/openapi.json"
DOCS_URL = "/api/v1/docs"

DESCRIPTION = """Create, inspect, cancel and retry ScientistCloud processing jobs, and read the
queue's statistics. Every endpoint except `/api/v1/health` needs `Authorization: Bearer <token>`;
creating, cancelling and retrying need an `operator` token (a `viewer` token gets 403).
Times are ISO 8601 in UTC (`Z`). The web dashboard is served at `/`, Prometheus metrics at `/metrics`."""


def create_app(
    store_url: str | None,
    db_name: str | None,
    settings: Settings | None = None,
    tokens: Mapping[str, str] | None = None,
    *,
    allow_anonymous: bool = False,
) -> FastAPI:
    """Build the API over the store at ``store_url`` and ``db_name`` (the CLI's ``--db`` and
    ``--db-name``: resolved with the environment and ``settings`` in the one order of
    :func:`sccli.store.resolve_store_target`).

    ``tokens`` maps a token's name to its secret; its role comes from ``settings.api_roles``.
    Without tokens the app refuses to be built unless ``allow_anonymous`` (``sc api serve
    --no-auth`` on loopback) is given. The store is opened here (it connects on first use) and
    closed when the application shuts down. The dashboard (``/``) and ``/metrics`` share the app. Bodies
    over ``settings.api_max_body_bytes`` get 413; an anonymous app answers only loopback Host names.
    """
    check_paths = settings is not None
    settings = settings or Settings()
    tokens = dict(tokens or {})
    if not tokens and not allow_anonymous:
        raise InvalidInput(
            "create_app needs at least one API token (or allow_anonymous=True for a loopback --no-auth server)"
        )
    roles = resolve_roles(settings, tokens)
    store = open_target(resolve_store_target(store_url, db_name, settings))
    queue = JobQueue.from_settings(store, settings, actor=API_ACTOR, check_paths=check_paths)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(
        title="sccli job API", version=__version__, description=DESCRIPTION,
        openapi_url=OPENAPI_URL, docs_url=DOCS_URL, redoc_url=None, lifespan=lifespan,
    )
    app.state.api = ApiState(store=store, queue=queue, settings=settings)
    app.state.tokens = tokens
    app.state.roles = roles
    app.state.sessions = SessionSigner.from_settings(settings, tokens, roles)
    install_error_handlers(app)
    install_guards(app, loopback_only=not tokens, max_body_bytes=settings.api_max_body_bytes)
    install_access_log(app)
    app.include_router(health)
    app.include_router(jobs)
    app.include_router(scrape)
    app.include_router(schedules)
    install_dashboard(app)
    app.openapi = lambda: _openapi_with_job_types(app, queue.known_types)  # type: ignore[method-assign]
    return app


def _openapi_with_job_types(app: FastAPI, job_types: list[str]) -> dict[str, Any]:
    """The generated schema, with ``job_type`` limited to this deployment's types (built in + plugins)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schema["components"]["schemas"]["JobCreate"]["properties"]["job_type"]["enum"] = job_types
        for parameter in schema["paths"]["/api/v1/jobs"]["get"]["parameters"]:
            if parameter["name"] == "job_type":
                _set_items_enum(parameter["schema"], job_types)
        app.openapi_schema = schema
    return app.openapi_schema


def _set_items_enum(schema: dict[str, Any], values: list[str]) -> None:
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "array":
            option["items"]["enum"] = values


def serve(app: FastAPI, host: str, port: int, log_level: str = "info", *, log_json: bool = False,
          banner: str | None = None) -> None:
    """Run ``app`` with uvicorn until interrupted (SIGINT/SIGTERM stop it gracefully).

    After a graceful SIGTERM this returns normally (``sc api serve`` exits 0, as a service
    manager expects); uvicorn itself would re-raise the signal once it has shut down. Logs go
    to stderr at ``log_level`` (one JSON object per line with ``log_json``), one access line
    per request from :mod:`sccli.api.access` (uvicorn's own access log is off).
    """
    import signal

    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            captured = getattr(self, "_captured_signals", None)
            if sig == signal.SIGTERM and isinstance(captured, list) and sig in captured:
                captured.remove(sig)

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False, server_header=False,
                            log_config=_log_config(log_level, log_json))
    if banner:
        logging.getLogger("sccli.api").warning(banner)  # at warning: shown at every --log-level but error
    Server(config).run()


def _log_config(log_level: str, log_json: bool) -> dict[str, Any]:
    """uvicorn's and sccli's loggers to stderr, as text lines or JSON objects (``--log-json``)."""
    level = "DEBUG" if log_level == "trace" else log_level.upper()
    formatter: dict[str, Any] = {"()": "sccli.service.logs.JsonFormatter"} if log_json else {
        "format": "%(asctime)s %(levelname)-7s %(message)s", "datefmt": "%Y-%m-%dT%H:%M:%S"}
    handler = {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}
    logger = {"handlers": ["default"], "level": level, "propagate": False}
    loggers = {"uvicorn": logger, "uvicorn.error": {"level": level}, "sccli": logger}
    return {"version": 1, "disable_existing_loggers": False, "formatters": {"default": formatter},
            "handlers": {"default": handler}, "loggers": loggers}


__all__ = ["DOCS_URL", "OPENAPI_URL", "check_can_serve", "create_app", "serve"]
