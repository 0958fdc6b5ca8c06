"""The dashboard's pages (GET): overview, jobs, job, failures, report, datasets, and the
fragments htmx polls to keep the overview and a running job current without a reload."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sccli.api.dashboard import views
from sccli.api.dashboard.web import Page, page
from sccli.errors import InvalidInput, NotFound
from sccli.jobids import resolve_job_id

pages = APIRouter(include_in_schema=False)
Current = Annotated[Page, Depends(page)]
#: How often the overview and a running job's page refresh themselves.
OVERVIEW_REFRESH_SECONDS = 2
JOB_REFRESH_SECONDS = 1


@pages.get("/", response_class=HTMLResponse)
def overview_page(current: Current) -> HTMLResponse:
    """Health, counts, services and throughput, refreshed every few seconds."""
    return current.render(
        "overview.html", active="overview", refresh=OVERVIEW_REFRESH_SECONDS, **views.overview(current.state)
    )


@pages.get("/fragments/overview", response_class=HTMLResponse)
def overview_fragment(current: Current) -> HTMLResponse:
    return current.render("_overview.html", **views.overview(current.state))


@pages.get("/jobs", response_class=HTMLResponse)
def jobs_page(
    current: Current,
    status: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies defaults)
    job_type: Annotated[list[str], Query()] = [],  # noqa: B006
    dataset: str = "",
    error: str = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    param: Annotated[list[str], Query()] = [],  # noqa: B006
    user: str = "",
    dataset_name: str = "",
    id: str = "",  # noqa: A002 (the id box: jumps to the job it names)
) -> Response:
    """Jobs newest first, filtered by status, type, dataset, error text, parameters and the
    dataset's owner and name, 50 a page; ``id`` (a job id or unique prefix) opens that job."""
    wanted = views.JobFilter(
        [s for s in status if s], [t for t in job_type if t], dataset.strip(), error.strip()[:200], page,
        [p.strip() for p in param if p.strip()], user.strip()[:200], dataset_name.strip()[:200],
    )
    common = {
        "active": "jobs", "statuses": views.STATUSES, "types": current.state.queue.known_types, "filter": wanted,
        "wanted_id": id,
    }
    try:
        if id.strip():
            return RedirectResponse(
                f"/jobs/{quote(resolve_job_id(current.state.store, id.strip()), safe='')}", status_code=303
            )
        found = views.jobs_page(current.state, wanted)
    except (InvalidInput, NotFound) as exc:
        code = 404 if isinstance(exc, NotFound) else 422
        return current.render(
            "jobs.html", status_code=code, problem=str(exc), jobs=[], total=0, page=1, pages=1, first=1, scanned=None,
            order="", notices=[], **common,
        )
    found.pop("filter")
    found.setdefault("notices", [])
    return current.render("jobs.html", problem=None, **found, **common)  # type: ignore[arg-type]


@pages.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(current: Current, job_id: str, notice: str = "") -> HTMLResponse:
    """One job: what ``sc job show`` shows, its live progress and its log tail."""
    detail = views.job_detail(current.state, job_id)
    return current.render("job.html", active="jobs", notice=NOTICES.get(notice), refresh=JOB_REFRESH_SECONDS, **detail)


@pages.get("/fragments/jobs/{job_id}", response_class=HTMLResponse)
def job_fragment(current: Current, job_id: str) -> HTMLResponse:
    """The progress and log of a running job; once it has ended, htmx reloads the whole page."""
    detail = views.job_detail(current.state, job_id)
    response = current.render("_job_live.html", refresh=JOB_REFRESH_SECONDS, **detail)
    if not detail["running"]:
        response.headers["HX-Refresh"] = "true"
    return response


#: The only messages a redirect after an action may ask a page to show (no text from the URL).
NOTICES = {
    "retried": "Retried: the job is pending again.", "cancelled": "Cancelled.",
    "cancel-requested": "Cancel requested: the service stops the job within seconds.",
    "run-now": "Pending: the next free service claims it.",
}

FAILURE_HOURS = (1, 6, 24, 168)


@pages.get("/failures", response_class=HTMLResponse)
def failures_page(current: Current, hours: Annotated[float, Query(gt=0, le=2160)] = 24) -> HTMLResponse:
    """Failures grouped by type and error signature, each with a retry."""
    return current.render(
        "failures.html", active="failures", choices=FAILURE_HOURS, **views.failures(current.state, hours)
    )


@pages.get("/failures/confirm", response_class=HTMLResponse)
def failures_confirm(
    current: Current, job_type: str, signature: str, hours: Annotated[float, Query(gt=0, le=2160)] = 24
) -> HTMLResponse:
    """The confirmation before retrying a group: how many jobs, which ones."""
    group = views.failure_group(current.state, hours, job_type, signature)
    return current.render("confirm.html", active="failures", group=group, hours=hours)


@pages.get("/report", response_class=HTMLResponse)
def report_page(current: Current, days: int = 7) -> HTMLResponse:
    """The performance report over 1, 7 or 30 days."""
    return current.render("report.html", active="report", **views.report(current.state, days))


@pages.get("/datasets", response_class=HTMLResponse)
def datasets_page(current: Current, status: str = "", after: str = "") -> HTMLResponse:
    """Datasets by status, 50 a page."""
    return current.render(
        "datasets.html", active="datasets", after=after, **views.datasets(current.state, status, after)
    )


@pages.get("/datasets/{uuid}", response_class=HTMLResponse)
def dataset_page(current: Current, uuid: str) -> HTMLResponse:
    """One dataset: its fields, its jobs and its status transitions."""
    return current.render("dataset.html", active="datasets", **views.dataset_detail(current.state, uuid))
