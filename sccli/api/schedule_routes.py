"""``/api/v1/schedules``: read schedules (any token), add, pause/resume, remove and run now (operators).

The same library calls as ``sc schedule`` (:mod:`sccli.schedules`, :mod:`sccli.schedule_firing`);
a malformed cron or timezone is a 422 naming the field, a taken name a 409, an unknown one a 404.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from sccli.api.auth import Identity, caller, operator
from sccli.api.errors import FieldInvalid, plain
from sccli.api.routes import ApiState, api_state
from sccli.api.schemas import ErrorBody
from sccli.errors import InvalidInput

State = Annotated[ApiState, Depends(api_state)]
Caller = Annotated[Identity, Depends(caller)]
Operator = Annotated[Identity, Depends(operator)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid bearer token."},
    404: {"model": ErrorBody, "description": "No such schedule (or dataset)."},
    503: {"model": ErrorBody, "description": "The store is unreachable."},
}
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "The token is a viewer; this needs an operator token."},
    409: {"model": ErrorBody, "description": "A schedule of that name exists."},
}

schedules = APIRouter(prefix="/api/v1/schedules", tags=["schedules"], responses=_ERRORS)


class ScheduleCreate(BaseModel):
    """A new schedule (the fields of ``sc schedule add``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    job_type: str = Field(min_length=1, max_length=64)
    cron: str = Field(min_length=1, max_length=200, description='Five fields, or @daily, @hourly...; e.g. "0 3 * * *".')
    dataset_uuid: Optional[str] = Field(None, max_length=64)
    parameters: dict[str, Any] = Field(default_factory=dict)
    priority: Optional[int] = Field(None, ge=1, le=3)
    timezone: str = Field("UTC", min_length=1, max_length=64, description="IANA name, e.g. Europe/Rome.")
    catch_up: Literal["latest", "none"] = "latest"


class SchedulePatch(BaseModel):
    """A change to a schedule: pause (true) or resume (false) it."""

    model_config = ConfigDict(extra="forbid")

    paused: bool


def _one(state: ApiState, doc: dict[str, Any]) -> dict[str, Any]:
    from sccli.schedules import describe

    return plain(describe(state.store, doc))


@schedules.get("")
def list_schedules(state: State, who: Caller) -> JSONResponse:
    """Every schedule with its next fire, its last fire and that job's status."""
    from sccli.schedules import list_schedules as all_schedules

    return JSONResponse({"schedules": [_one(state, d) for d in all_schedules(state.store)]})


@schedules.get("/{name}")
def get_schedule(name: str, state: State, who: Caller) -> JSONResponse:
    """One schedule and its latest fires (newest first)."""
    from sccli.schedules import get_schedule as one
    from sccli.schedules import schedule_fires

    doc = one(state.store, name)
    return JSONResponse({**_one(state, doc), "fires": plain(schedule_fires(state.store, doc))})


@schedules.post("", status_code=201, responses=_WRITE_ERRORS)
def add_schedule(body: ScheduleCreate, state: State, who: Operator) -> JSONResponse:
    """Add a schedule (201; 422 for a malformed cron or timezone, 409 when the name is taken)."""
    from sccli.schedules import ScheduleSpec
    from sccli.schedules import add_schedule as add

    spec = ScheduleSpec(**body.model_dump())
    try:
        doc = add(state.queue, spec, actor=who.actor, allow_every=state.settings.schedule_intervals)
    except InvalidInput as exc:
        message = str(exc)
        field = next(
            (
                f
                for f in ("cron", "timezone", "catch_up", "dataset_uuid", "name", "priority")
                if f.split("_")[0] in message
            ),
            None,
        )
        raise FieldInvalid(message, ("body", field) if field else ("body",)) from None
    return JSONResponse(_one(state, doc), status_code=201, headers={"Location": f"/api/v1/schedules/{doc['name']}"})


@schedules.patch("/{name}", responses=_WRITE_ERRORS)
def patch_schedule(name: str, body: SchedulePatch, state: State, who: Operator) -> JSONResponse:
    """Pause or resume a schedule."""
    from sccli.schedules import set_paused

    return JSONResponse(_one(state, set_paused(state.store, name, body.paused, actor=who.actor)))


@schedules.delete("/{name}", responses=_WRITE_ERRORS)
def delete_schedule(name: str, state: State, who: Operator) -> JSONResponse:
    """Remove a schedule (the jobs it created stay)."""
    from sccli.schedules import remove_schedule

    doc = remove_schedule(state.store, name)
    return JSONResponse({"removed": doc["name"], "schedule_id": doc["schedule_id"]})


@schedules.post("/{name}/run-now", responses=_WRITE_ERRORS)
def run_now(name: str, state: State, who: Operator) -> JSONResponse:
    """Create the schedule's job now, outside its timetable: ``{outcome, job_id, reason, ...}``."""
    from sccli.schedule_firing import ScheduleFirer

    fire = ScheduleFirer(state.queue, actor=who.actor, allow_every=True).run_now(name)
    return JSONResponse(plain(fire.to_dict()))
