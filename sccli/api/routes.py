"""The endpoints: jobs (create, read, list, cancel, retry), queue stats and health.

Handlers are plain ``def`` functions, so FastAPI runs them in its threadpool; the store is safe
to share between those threads (SQLite keeps one connection per thread, MongoDB one client).
Errors are sccli exceptions, translated to statuses in :mod:`sccli.api.errors`.

Handlers return documents encoded by :func:`sccli.api.errors.job_json` rather than validating
them through the response models: a legacy document with an odd field must still be served.
The models document the shapes in OpenAPI; the schema fuzz test keeps both in agreement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Optional

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials

from sccli import __version__
from sccli.api.auth import Identity, bearer_scheme, caller, operator
from sccli.api.errors import FieldInvalid, body_field_of, job_json, plain
from sccli.api.schemas import (
    MAX_PAGE,
    CancelRequest,
    ErrorBody,
    Health,
    Job,
    JobCreate,
    JobEvents,
    JobPage,
    JobStatusName,
    QueueOverview,
    ValidationErrorBody,
)
from sccli.domain import is_valid_uuid
from sccli.errors import Conflict, InvalidInput, ScError, StoreUnavailable
from sccli.jobids import explanation, job_detail, resolve_job_id
from sccli.operations import naming_active_job
from sccli.queue import JobQueue
from sccli.settings import Settings
from sccli.store.base import JobQuery, Store

#: The queue's default actor in the API; every action records its caller's ``api:<token name>``.
API_ACTOR = "api"

_REQUEST_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The request body could not be parsed."},
    401: {"model": ErrorBody, "description": "Missing or invalid bearer token."},
}
_FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "The token is a viewer; this needs an operator token."}
}
_STORE_ERRORS: dict[int | str, dict[str, Any]] = {503: {"model": ErrorBody, "description": "The store is unreachable."}}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such job."}}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "The job is in a state that does not allow this."}
}
_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationErrorBody, "description": "Refused input, field by field."}
}


@dataclass
class ApiState:
    """What every handler needs, built once by ``create_app``."""

    store: Store
    queue: JobQueue
    settings: Settings
    #: Recent results of slow, slowly changing queries (the dashboard's report), by key.
    cache: dict[Any, Any] = field(default_factory=dict)


async def api_state(request: Request) -> ApiState:
    """Dependency: the application's store, queue and settings (no I/O, so not sent to a thread)."""
    return request.app.state.api


State = Annotated[ApiState, Depends(api_state)]
Caller = Annotated[Identity, Depends(caller)]
#: A caller allowed to act: a viewer token gets 403.
Operator = Annotated[Identity, Depends(operator)]

jobs = APIRouter(prefix="/api/v1/jobs", tags=["jobs"], responses={**_REQUEST_ERRORS, **_STORE_ERRORS, **_INVALID})
health = APIRouter(prefix="/api/v1", tags=["health"])
scrape = APIRouter(tags=["metrics"])
#: The Prometheus text format's content type.
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@jobs.post(
    "", status_code=201, response_model=Job,
    responses={404: {"model": ErrorBody, "description": "Unknown dataset."}, **_CONFLICT, **_FORBIDDEN},
)
def create_job(body: JobCreate, state: State, caller: Operator) -> JSONResponse:
    """Create a job for a dataset (201 with the job; 409 when an active job of the type exists); with
    ``run_at`` or ``delay_seconds`` it waits as ``scheduled`` until then."""
    try:
        job_id = state.queue.create_job(
            body.dataset_uuid, body.job_type, body.parameters, priority=body.priority,
            max_attempts=body.max_attempts, timeout_minutes=body.timeout_minutes,
            allow_missing_dataset=body.allow_missing_dataset, allow_duplicate=body.allow_duplicate,
            created_by=caller.actor, actor=caller.actor, run_at=body.run_at, delay=body.delay_seconds,
        )
    except InvalidInput as exc:
        field = body_field_of(str(exc))
        raise FieldInvalid(str(exc), ("body", field) if field else ("body",)) from None
    except Conflict as exc:  # name the job already active, as the CLI does
        raise naming_active_job(state.queue, body.dataset_uuid, body.job_type, exc) from None
    job = state.queue.require_job(job_id)
    return JSONResponse(job_json(job), status_code=201, headers={"Location": f"/api/v1/jobs/{job_id}"})


@jobs.get("/queue/stats", response_model=QueueOverview)
def queue_stats(state: State, caller: Caller) -> JSONResponse:
    """The queue's counts by status and type, and its health (the monitor overview's parts)."""
    return JSONResponse(plain(queue_overview(state)))


#: The query parameters of ``GET /api/v1/jobs``: any other is refused (a typo such as
#: ``stauts=failed`` must not silently list every job).
LIST_PARAMETERS = frozenset({"status", "job_type", "dataset_uuid", "limit", "offset", "param", "user", "dataset_name"})


def known_list_parameters(request: Request) -> None:
    """Refuse unknown query parameters of the job listing (422 naming the first)."""
    for name in request.query_params:
        if name not in LIST_PARAMETERS:
            raise FieldInvalid(
                f"unknown query parameter {name!r}; known: {', '.join(sorted(LIST_PARAMETERS))}", ("query", name)
            )


@jobs.get("", response_model=JobPage, dependencies=[Depends(known_list_parameters)])
def list_jobs(
    state: State,
    caller: Caller,
    status: Annotated[Optional[list[JobStatusName]], Query(description="Filter by status (repeatable).")] = None,
    job_type: Annotated[Optional[list[str]], Query(description="Filter by job type (repeatable).")] = None,
    dataset_uuid: Annotated[Optional[str], Query(description="Filter by dataset UUID.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"Page size (at most {MAX_PAGE}).")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Jobs to skip.")] = 0,
    param: Annotated[
        Optional[list[str]],
        Query(
            description="Parameter key=value (repeatable), matched in the newest 5000 jobs the other filters select."
        ),
    ] = None,
    user: Annotated[Optional[str], Query(min_length=1, description="Jobs of this user's datasets.")] = None,
    dataset_name: Annotated[
        Optional[str], Query(min_length=1, description="Jobs of datasets whose name contains this.")
    ] = None,
) -> JSONResponse:
    """Jobs newest first, filtered and paginated, with the total that match (``notices`` say where a
    search reached its bound: see ``sccli.job_search``)."""
    from sccli.job_search import JobSearch, parse_param_filter, search_jobs

    for name in job_type or []:
        try:
            state.queue.check_type(name)
        except InvalidInput as exc:
            raise FieldInvalid(str(exc), ("query", "job_type")) from None
    if dataset_uuid is not None and not is_valid_uuid(dataset_uuid):
        message = f"malformed dataset UUID {dataset_uuid[:60]!r} (expected 8-4-4-4-12 hex)"
        raise FieldInvalid(message, ("query", "dataset_uuid"))
    try:
        filters = [parse_param_filter(p) for p in param or []]
    except InvalidInput as exc:
        raise FieldInvalid(str(exc), ("query", "param")) from None
    query = JobQuery(status=status or None, job_type=job_type or None, dataset_uuid=dataset_uuid)
    page = search_jobs(state.queue.store, JobSearch(query, filters, user, dataset_name), limit=limit, offset=offset)
    body = {
        "jobs": [job_json(j) for j in page.items], "total": page.total, "limit": limit, "offset": offset,
        "notices": page.notices,
    }
    return JSONResponse(body)


@jobs.get("/{job_id}", response_model=Job, responses=_NOT_FOUND)
def get_job(
    job_id: str,
    state: State,
    caller: Caller,
    explain: Annotated[bool, Query(description="Include plain-words reasons for the job's state.")] = True,
) -> JSONResponse:
    """One job with its ``events`` (its history) and an ``explanation`` of why it is where it is.

    The id may be a unique prefix of at least 6 characters (422 when ambiguous or shorter,
    404 when unknown)."""
    detail = job_detail(state.store, job_id, state.settings.stale_after_seconds, explain=explain)
    detail.pop("dataset", None)
    return JSONResponse(job_json(detail))


@jobs.get("/{job_id}/events", response_model=JobEvents, responses=_NOT_FOUND)
def get_job_events(job_id: str, state: State, caller: Caller) -> JSONResponse:
    """A job's history: every transition of it and of its dataset, oldest first."""
    job_id = resolve_job_id(state.store, job_id)
    return JSONResponse(job_json({"job_id": job_id, "events": state.store.find_events(job_id)}))


def explanation_of(state: ApiState, job: dict[str, Any]) -> list[str]:
    """Why the job is where it is (:func:`sccli.explain.explain_job`), never an error."""
    return explanation(state.store, job, state.settings.stale_after_seconds)


@jobs.post("/{job_id}/cancel", response_model=Job, responses={**_NOT_FOUND, **_CONFLICT, **_FORBIDDEN})
def cancel_job(
    job_id: str, state: State, caller: Operator, body: Annotated[Optional[CancelRequest], Body()] = None
) -> JSONResponse:
    """Cancel a pending job, or ask the service running it to stop (409 when it has ended)."""
    reason = (body.reason if body else None) or f"cancelled through the API by {caller.name}"
    job_id = resolve_job_id(state.store, job_id)
    return JSONResponse(job_json(state.queue.cancel(job_id, reason, actor=caller.actor)))


@jobs.post("/{job_id}/retry", response_model=Job, responses={**_NOT_FOUND, **_CONFLICT, **_FORBIDDEN})
def retry_job(job_id: str, state: State, caller: Operator) -> JSONResponse:
    """Put a failed or cancelled job back in the queue with fresh attempts (409 otherwise)."""
    job_id = resolve_job_id(state.store, job_id)
    return JSONResponse(job_json(state.queue.retry(job_id, actor=caller.actor)))


@health.get(
    "/health", response_model=Health, responses={503: {"model": Health, "description": "The store is unreachable."}}
)
def get_health(state: State) -> JSONResponse:
    """Liveness and store reachability (no authentication; 503 when the store is unreachable)."""
    try:
        state.store.ping()
    except Exception as exc:  # a probe: any failure to reach the store is "unavailable"
        detail = str(exc) if isinstance(exc, ScError) else f"{type(exc).__name__}: {exc}"
        body = {"status": "unavailable", "store": state.store.kind, "version": __version__, "detail": detail}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
    return JSONResponse({"status": "ok", "store": state.store.kind, "version": __version__, "detail": None})


@scrape.get(
    "/metrics", response_class=PlainTextResponse,
    responses={401: {"model": ErrorBody, "description": "Missing or invalid bearer token."}},
)
async def get_metrics(
    request: Request, state: State,
    credentials: Annotated[Optional[HTTPAuthorizationCredentials], Depends(bearer_scheme)],
) -> PlainTextResponse:
    """The queue's gauges in the Prometheus text format (any token; none with ``metrics_public``)."""
    from starlette.concurrency import run_in_threadpool

    if not state.settings.metrics_public:
        await caller(request, credentials)
    text = await run_in_threadpool(_metrics_text, state)
    return PlainTextResponse(text, media_type=PROMETHEUS_TYPE)


def _metrics_text(state: ApiState) -> str:
    from sccli.monitor import JobMonitor
    from sccli.monitor.metrics import queue_metrics_text

    return queue_metrics_text(JobMonitor(state.store, settings=state.settings, queue=state.queue))


def queue_overview(state: ApiState) -> dict[str, Any]:
    """The monitor overview's ``timestamp``, ``queue_stats`` and ``health_status``.

    The monitor reports health ``unknown`` instead of raising when the store cannot be read;
    the API answers 503 then, like every other endpoint that needs the store.
    """
    from sccli.monitor import JobMonitor

    overview = JobMonitor(state.store, settings=state.settings, queue=state.queue).get_queue_overview()
    health_status = overview["health_status"]
    if health_status.get("overall") == "unknown":
        raise StoreUnavailable("; ".join(health_status.get("issues") or ["the store cannot be read"]))
    return {key: overview[key] for key in ("timestamp", "queue_stats", "health_status")}


__all__ = ["API_ACTOR", "ApiState", "health", "jobs", "scrape"]
