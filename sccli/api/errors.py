"""The one place sccli errors become HTTP statuses, and the JSON encoding of documents."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sccli.errors import CheckFailed, Conflict, InvalidInput, MissingExtra, NotFound, ScError, StoreUnavailable
from sccli.serialize import plain, public_job

#: Status of each error class; the first match in this order wins (subclasses first).
STATUS_BY_ERROR: tuple[tuple[type[ScError], int], ...] = (
    (InvalidInput, 422),
    (NotFound, 404),
    (Conflict, 409),
    (StoreUnavailable, 503),
    (MissingExtra, 501),
    (CheckFailed, 400),
    (ScError, 400),
)

#: Words of an InvalidInput message from JobQueue.create_job → the body field it is about.
_FIELD_HINTS = (
    ("parameter '", "parameters"),  # first: the refused value, quoted after it, may hold any words
    ("job type", "job_type"),
    ("UUID", "dataset_uuid"),
    ("priority", "priority"),
    ("parameters", "parameters"),
    ("max_attempts", "max_attempts"),
    ("timeout_minutes", "timeout_minutes"),
    ("start time", "run_at"),
    ("start delay", "delay_seconds"),
)



class FieldInvalid(InvalidInput):
    """Input refused for one named field (rendered as a field-level 422)."""

    def __init__(self, message: str, loc: tuple[str, ...]) -> None:
        super().__init__(message)
        self.loc = loc


def status_of(error: ScError) -> int:
    """The HTTP status of an sccli error."""
    for cls, status in STATUS_BY_ERROR:
        if isinstance(error, cls):
            return status
    return 400


def body_field_of(message: str) -> str | None:
    """The request-body field an InvalidInput message from the queue is about, if it names one."""
    for words, name in _FIELD_HINTS:
        if words in message:
            return name
    return None


def error_response(error: ScError) -> JSONResponse:
    """An sccli error as JSON: field-level for invalid input, else ``{"detail": "..."}``."""
    status = status_of(error)
    if isinstance(error, InvalidInput):
        loc = list(getattr(error, "loc", ("body",)))
        return JSONResponse({"detail": [{"loc": loc, "msg": str(error), "type": "value_error"}]}, status_code=status)
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse({"detail": str(error)}, status_code=status, headers=headers)


async def _handle_sc_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ScError)
    return error_response(error)


async def _handle_validation_error(_request: Request, error: Exception) -> JSONResponse:
    """422 with ``loc``, ``msg`` and ``type`` only: the refused input is not echoed back (it may
    be large, or hold NaN, which JSON cannot carry: the default handler answered 500 then)."""
    from fastapi.exceptions import RequestValidationError

    assert isinstance(error, RequestValidationError)
    detail = [
        {"loc": list(plain(item.get("loc", ()))), "msg": str(item.get("msg", "")), "type": str(item.get("type", ""))}
        for item in error.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    """Register the single ScError → HTTP translation, and request validation's 422, on ``app``."""
    from fastapi.exceptions import RequestValidationError

    app.add_exception_handler(ScError, _handle_sc_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)


def job_json(job: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A job document as the API returns it (the one serializer, :func:`sccli.serialize.public_job`)."""
    return public_job(job, **extra)


__all__ = ["FieldInvalid", "job_json", "plain", "public_job"]
