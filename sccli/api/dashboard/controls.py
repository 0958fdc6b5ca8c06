"""The dashboard's queue controls: every job type with its pause and fleet-wide limits (GET
``/queue``), and the operator's change (POST ``/queue/control``: first a confirmation saying
what will change, then the change, recorded in ``job_events`` with ``api:<token name>``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sccli.api.dashboard.web import Action, Page, action, page
from sccli.errors import InvalidInput

controls = APIRouter(include_in_schema=False)
#: The form's fields of ``sc queue set`` (field → the control it sets).
LIMIT_FIELDS = {
    "max_running": "max_running",
    "rate": "rate",
    "timeout": "timeout_minutes",
    "max_attempts": "max_attempts",
    "priority": "priority",
    "memory_limit_mb": "memory_limit_mb",
}
VERBS = ("pause", "resume", "set", "clear")


def control_rows(current: Page) -> list[dict[str, Any]]:
    """One row per known job type: paused (by whom, why), its limits, what holds it now."""
    from sccli.controls import read_limits
    from sccli.gate import why_held
    from sccli.pause import ALL_TYPES, paused_types

    store = current.state.store
    paused, limits = paused_types(store), read_limits(store)
    rows = []
    for job_type in current.state.queue.known_types:
        lim = limits.get(job_type)
        held = why_held(store, job_type) if lim is not None else None
        rows.append(
            {
                "job_type": job_type,
                "paused": paused.get(job_type) or paused.get(ALL_TYPES),
                "limits": lim.as_row() if lim else {},
                "held": held.detail if held else None,
            }
        )
    return rows


@controls.get("/queue", response_class=HTMLResponse)
def queue_page(current: Annotated[Page, Depends(page)], notice: str = "") -> HTMLResponse:
    """Pause, resume and limit job types fleet-wide (operators), with what holds each now."""
    return current.render(
        "queue.html",
        active="queue",
        rows=control_rows(current),
        notice="Changed: every service applies it at its next poll." if notice == "changed" else None,
    )


def _changes(current: Action) -> tuple[dict[str, Any], list[str]]:
    """The limits the form sets (checked) and the ones it clears (a field given as ``-``)."""
    from sccli.controls import check_change, parse_minutes, parse_rate

    changes: dict[str, Any] = {}
    cleared = []
    for name, control in LIMIT_FIELDS.items():
        text = current.field(name).strip()
        if text == "-":
            cleared.append(control)
        elif text:
            value: Any = parse_rate(text) if name == "rate" else parse_minutes(text) if name == "timeout" else text
            if name in ("max_running", "max_attempts", "memory_limit_mb"):
                if not text.isdigit():
                    raise InvalidInput(f"{name} must be a whole number, got {text!r}")
                value = int(text)
            changes[control] = value
    check_change(changes)
    return changes, cleared


@controls.post("/queue/control", response_model=None)
def change(current: Annotated[Action, Depends(action)]) -> Response:
    """Pause, resume, set or clear the limits of one job type, after a confirmation."""
    from sccli.controls import set_limits
    from sccli.pause import pause_types, resume_types

    job_type, verb = current.field("job_type"), current.field("action")
    current.state.queue.check_type(job_type)
    if verb not in VERBS:
        raise InvalidInput(f"action must be one of {', '.join(VERBS)}")
    changes, cleared = _changes(current) if verb == "set" else ({}, ["all"] if verb == "clear" else [])
    if verb == "set" and not changes and not cleared:
        raise InvalidInput("nothing to set: fill in a limit (or - to remove one)")
    reason = current.field("reason").strip()[:500] or None
    if current.field("confirmed") != "yes":
        shown = {k: str(v) for k, v in changes.items()}
        form = {name: current.field(name) for name in LIMIT_FIELDS}
        return current.render(
            "confirm_queue.html",
            active="queue",
            job_type=job_type,
            verb=verb,
            changes=shown,
            cleared=cleared,
            reason=reason or "",
            form=form,
        )
    actor = current.identity.actor
    if verb == "pause":
        why = reason or f"paused in the dashboard by {current.identity.name}"
        pause_types(current.state.store, [job_type], why, actor)
    elif verb == "resume":
        resume_types(current.state.store, [job_type], actor)
    else:
        set_limits(current.state.store, job_type, changes, cleared, actor, reason)
    return RedirectResponse("/queue?notice=changed", status_code=303)
