"""The dashboard's actions (POST, CSRF-checked, operators only): retry, cancel (a running job after
a confirmation) or run now one job, many selected jobs (after a confirmation), or a whole failure group.

Each calls :mod:`sccli.operations` with the caller's ``api:<token name>`` as actor, and never
stops at one bad job: the result page says which jobs were done and why others were refused.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sccli.api.dashboard import views
from sccli.api.dashboard.web import Action, action
from sccli.domain import JobStatus
from sccli.errors import InvalidInput

actions = APIRouter(include_in_schema=False)
Acting = Annotated[Action, Depends(action)]
#: Most jobs one bulk action takes (the jobs page shows 50).
MAX_BULK = 500
#: The failures page's longest window (its ``hours`` query is bounded the same way).
MAX_HOURS = 2160


@actions.post("/jobs/{job_id}/retry", response_model=None)
def retry_job(job_id: str, current: Acting) -> Response:
    """Retry one failed or cancelled job."""
    from sccli.operations import bulk_retry

    outcome = bulk_retry(current.state.queue, [job_id], actor=current.identity.actor)
    if outcome["done"]:
        return RedirectResponse(f"/jobs/{job_id}?notice=retried", status_code=303)
    return _result(current, "retry", outcome, status_code=409)


@actions.post("/jobs/{job_id}/cancel", response_model=None)
def cancel_job(job_id: str, current: Acting) -> Response:
    """Cancel one pending job, or ask the service to stop a running one: that after a
    confirmation page (a plain form re-posting with ``confirmed=yes``: no script needed)."""
    from sccli.operations import bulk_cancel

    job = current.state.queue.require_job(job_id)
    if job["status"] == JobStatus.RUNNING and current.field("confirmed") != "yes":
        reason = current.field("reason").strip()[:500]
        return current.render("confirm_cancel.html", active="jobs", job=job, reason=reason)
    outcome = bulk_cancel(current.state.queue, [job_id], _reason(current), actor=current.identity.actor)
    if not outcome["done"]:
        return _result(current, "cancel", outcome, status_code=409)
    job = current.state.queue.require_job(job_id)
    return RedirectResponse(
        f"/jobs/{job_id}?notice={'cancelled' if job['status'] == JobStatus.CANCELLED else 'cancel-requested'}",
        status_code=303,
    )


@actions.post("/jobs/{job_id}/run-now", response_model=None)
def run_now(job_id: str, current: Acting) -> Response:
    """Start one scheduled job now (it becomes pending)."""
    from sccli.errors import Conflict

    try:
        current.state.queue.run_now(job_id, actor=current.identity.actor)
    except Conflict as exc:
        return _result(
            current, "run now", {"done": [], "refused": [{"job_id": job_id, "reason": str(exc)}]}, status_code=409
        )
    return RedirectResponse(f"/jobs/{job_id}?notice=run-now", status_code=303)


@actions.post("/jobs/bulk", response_class=HTMLResponse)
def bulk(current: Acting) -> HTMLResponse:
    """Retry or cancel the selected jobs: first a confirmation listing them, then the action."""
    from sccli.operations import bulk_cancel, bulk_retry

    verb = current.field("action")
    if verb not in ("retry", "cancel"):
        raise InvalidInput("action must be retry or cancel")
    job_ids = list(dict.fromkeys(current.form.get("job_id", [])))
    if not job_ids:
        raise InvalidInput("select at least one job")
    if len(job_ids) > MAX_BULK:
        raise InvalidInput(f"at most {MAX_BULK} jobs at once")
    if current.field("confirmed") != "yes":
        return current.render(
            "confirm_bulk.html", active="jobs", verb=verb, job_ids=job_ids, back=current.field("back", "/jobs")
        )
    actor = current.identity.actor
    outcome = (
        bulk_retry(current.state.queue, job_ids, actor=actor)
        if verb == "retry"
        else bulk_cancel(current.state.queue, job_ids, _reason(current), actor=actor)
    )
    return _result(current, verb, outcome)


@actions.post("/failures/retry", response_class=HTMLResponse)
def retry_group(current: Acting) -> HTMLResponse:
    """Retry every job of one failure group (as it is now; the confirmation showed its size)."""
    from sccli.operations import bulk_retry

    try:
        hours = float(current.field("hours", "24"))
    except ValueError:
        raise InvalidInput("hours must be a number") from None
    if not 0 < hours <= MAX_HOURS:  # NaN fails both comparisons
        raise InvalidInput(f"hours must be a number greater than 0 and at most {MAX_HOURS}")
    group = views.failure_group(current.state, hours, current.field("job_type"), current.field("signature"))
    outcome = bulk_retry(current.state.queue, group["job_ids"], actor=current.identity.actor)
    return _result(current, "retry", outcome, group=group)


def _reason(current: Action) -> str:
    return current.field("reason").strip()[:500] or f"cancelled in the dashboard by {current.identity.name}"


def _result(current: Action, verb: str, outcome: dict[str, Any], status_code: int = 200, **extra: Any) -> HTMLResponse:
    return current.render(
        "result.html", status_code=status_code, active="jobs", verb=verb, done=outcome["done"],
        refused=outcome["refused"], **extra,
    )
