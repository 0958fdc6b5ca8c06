"""The dashboard's schedules page: next fire, last fire and its job's outcome; pause, resume and
run now for operators (POST, CSRF-checked like every dashboard action)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sccli.api.dashboard.web import Action, Page, action, page

schedule_pages = APIRouter(include_in_schema=False)
Current = Annotated[Page, Depends(page)]
Acting = Annotated[Action, Depends(action)]
#: The only messages a redirect after an action may ask the page to show (no text from the URL).
NOTICES = {
    "paused": "Paused.",
    "resumed": "Resumed: it fires at its next time.",
    "queued": "Fired: a job was queued.",
    "skipped": "Not fired: an active job of its dataset and type exists.",
    "failed": "The fire failed (see its last fires).",
}


@schedule_pages.get("/schedules", response_class=HTMLResponse)
def schedules_page(current: Current, notice: str = "") -> HTMLResponse:
    """Every schedule with its next fire, its last fire and the outcome of that fire's job."""
    from sccli.schedules import describe, list_schedules

    store = current.state.store
    rows = [describe(store, d) for d in list_schedules(store)]
    return current.render("schedules.html", active="schedules", rows=rows, notice=NOTICES.get(notice))


@schedule_pages.post("/schedules/{name}/pause", response_model=None)
def pause(name: str, current: Acting) -> Response:
    from sccli.schedules import set_paused

    set_paused(current.state.store, name, True, actor=current.identity.actor)
    return RedirectResponse("/schedules?notice=paused", status_code=303)


@schedule_pages.post("/schedules/{name}/resume", response_model=None)
def resume(name: str, current: Acting) -> Response:
    from sccli.schedules import set_paused

    set_paused(current.state.store, name, False, actor=current.identity.actor)
    return RedirectResponse("/schedules?notice=resumed", status_code=303)


@schedule_pages.post("/schedules/{name}/run-now", response_model=None)
def run_now(name: str, current: Acting) -> Response:
    from sccli.schedule_firing import ScheduleFirer

    fire = ScheduleFirer(current.state.queue, actor=current.identity.actor, allow_every=True).run_now(name)
    return RedirectResponse(f"/schedules?notice={fire.outcome}", status_code=303)
