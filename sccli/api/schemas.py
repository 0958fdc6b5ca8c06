"""Request and response shapes of the HTTP API (pydantic models, also the OpenAPI schema).

Job responses keep the contract's field names (the portal reads them); times are ISO 8601 in
UTC with a ``Z`` suffix, and no backend-private key (``_id``, ObjectId) ever appears.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sccli.domain import JOB_TYPE_CONFIGS
from sccli.errors import InvalidInput
from sccli.limits import INT64_MAX, INT64_MIN

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
JobStatusName = Literal["pending", "running", "completed", "failed", "cancelled", "scheduled"]
PriorityValue = Union[Annotated[int, Field(ge=1, le=3)], Literal["high", "normal", "low"]]

#: Most jobs one list request returns.
MAX_PAGE = 500


#: A parameter key the store accepts (sccli.limits: no leading ``$``, no ``.`` or NUL).
_KEY = {"pattern": "^([^$.\\u0000][^.\\u0000]*)?$"}
_INT64 = {"type": "integer", "minimum": INT64_MIN, "maximum": INT64_MAX}
_LEAF: dict[str, Any] = {
    "anyOf": [{"type": ["string", "boolean", "null"]}, _INT64, {"type": "number", "minimum": -1e18, "maximum": 1e18}]
}


def _level(inner: dict[str, Any]) -> dict[str, Any]:
    return {
        "anyOf": [
            *_LEAF["anyOf"], {"type": "array", "items": inner},
            {"type": "object", "propertyNames": _KEY, "additionalProperties": inner},
        ]
    }


def _parameters_schema(schema: dict[str, Any]) -> None:
    """The OpenAPI shape of ``parameters``: what :func:`sccli.limits.check_storable` lets through."""
    kept: dict[str, Any] = {key: schema[key] for key in ("title", "description", "default") if key in schema}
    schema.clear()
    schema.update(
        {
            **kept,
            "anyOf": [
                {"type": "object", "propertyNames": _KEY, "additionalProperties": _level(_level(_LEAF))},
                {"type": "null"},
            ],
        }
    )


class JobCreate(BaseModel):
    """Body of ``POST /api/v1/jobs``: the spec's four fields plus the CLI's optional flags."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "dataset_uuid": "550e8400-e29b-41d4-a716-446655440000",
                    "job_type": "dataset_conversion",
                    "parameters": {
                        "input_path": "/path/to/input", "output_path": "/path/to/output", "sensor_type": "4D_Probe",
                    },
                    "priority": 1,
                }
            ]
        },
    )

    dataset_uuid: str = Field(pattern=UUID_PATTERN, description="The dataset's UUID (8-4-4-4-12 hex).")
    job_type: str = Field(
        min_length=1, max_length=100,
        description=f"One of {', '.join(JOB_TYPE_CONFIGS)} or a plugin type from settings.",
    )
    parameters: Optional[dict[str, Any]] = Field(
        default=None,
        json_schema_extra=_parameters_schema,
        description="Handler parameters (a JSON object). Keys may not start with `$` nor hold `.` or NUL; "
        "integers fit in 64 bits; at most 90 levels deep (the schema shows three).",
    )
    priority: Optional[PriorityValue] = Field(
        default=None, description="1 high, 2 normal, 3 low (default from the job type)."
    )
    max_attempts: Optional[Annotated[int, Field(ge=1, le=100)]] = Field(
        default=None, description="Default from the job type."
    )
    timeout_minutes: Optional[Annotated[int, Field(ge=1, le=10080)]] = Field(
        default=None, description="Per-attempt timeout; default from the job type."
    )
    allow_missing_dataset: bool = Field(default=False, description="Create the job even when the dataset is unknown.")
    allow_duplicate: bool = Field(default=False, description="Allow a second active job of this type for the dataset.")
    run_at: Optional[datetime] = Field(
        default=None, description="Start no earlier than this time (ISO 8601; no zone = UTC; a past time: at once). "
        "Until then the job is `scheduled`.",
    )
    delay_seconds: Optional[Annotated[float, Field(ge=0, le=366 * 86400, allow_inf_nan=False)]] = Field(
        default=None, description="Start after this many seconds (`scheduled` until then); not with `run_at`.",
    )

    @model_validator(mode="after")
    def _one_start(self) -> JobCreate:
        if self.run_at is not None and self.delay_seconds is not None:
            raise ValueError("give run_at or delay_seconds, not both")
        return self

    @field_validator("priority", "max_attempts", "timeout_minutes", "delay_seconds", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a number, not true/false")
        return value

    @field_validator("parameters")
    @classmethod
    def _storable(cls, value: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
        """Refuse what no store can hold (beyond 64-bit integers, NaN, deep nesting, ``$`` keys): 422."""
        from sccli.limits import check_storable

        if value is not None:
            try:
                check_storable(value, "parameters")
            except InvalidInput as exc:
                raise ValueError(str(exc)) from None
        return value


class CancelRequest(BaseModel):
    """Optional body of ``POST /api/v1/jobs/{job_id}/cancel``."""

    model_config = ConfigDict(extra="forbid")

    reason: Optional[str] = Field(
        default=None, max_length=500, description="Stored as the job's error and the dataset's error_message."
    )


class JobErrorEntry(BaseModel):
    """One failed attempt in a job's ``errors`` history."""

    model_config = ConfigDict(extra="allow")

    attempt: Optional[int] = None
    at: Optional[datetime] = None
    error: Optional[str] = None
    worker: Optional[str] = None


class JobResourcesEntry(BaseModel):
    """What one ended attempt used (see docs/resources.md); a figure not measured is left out."""

    model_config = ConfigDict(extra="allow")

    attempt: Optional[int] = None
    worker: Optional[str] = None
    cpu_seconds: Optional[float] = Field(default=None, description="User + system CPU of the attempt's process tree.")
    user_seconds: Optional[float] = None
    system_seconds: Optional[float] = None
    peak_rss_bytes: Optional[int] = Field(
        default=None, description="Largest resident set of one of its processes, or of the sampled tree.")
    read_bytes: Optional[int] = Field(
        default=None, description="Bytes through read calls (rchar), cached reads included.")
    write_bytes: Optional[int] = Field(default=None, description="Bytes through write calls (wchar).")
    memory_limit_bytes: Optional[int] = None


class JobLogEntry(BaseModel):
    """One entry of a job's capped ``logs`` list."""

    model_config = ConfigDict(extra="allow")

    timestamp: Optional[datetime] = None
    message: Optional[str] = None


class Job(BaseModel):
    """A job document with the contract's field names (unknown extra fields are passed through)."""

    model_config = ConfigDict(extra="allow")

    job_id: str
    dataset_uuid: str
    job_type: str
    status: str
    priority: int
    parameters: dict[str, Any] = Field(default_factory=dict)
    attempts: int = 0
    max_attempts: Optional[int] = None
    timeout_minutes: Optional[int] = None
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    started_at: Optional[datetime] = None
    completed_at: Optional[datetime] = None
    run_after: Optional[datetime] = None
    worker_id: Optional[str] = None
    pid: Optional[int] = None
    host: Optional[str] = None
    heartbeat_at: Optional[datetime] = None
    cancel_requested: bool = False
    progress_percentage: Optional[float] = None
    progress_message: Optional[str] = None
    result: Optional[dict[str, Any]] = None
    error: Optional[str] = None
    errors: list[JobErrorEntry] = Field(default_factory=list)
    logs: list[JobLogEntry] = Field(default_factory=list)
    resources: list[JobResourcesEntry] = Field(default_factory=list, description="What each ended attempt used.")
    parent_job_id: Optional[str] = None
    created_by: Optional[str] = None
    migration_id: Optional[str] = None
    explanation: Optional[list[str]] = Field(
        default=None, description="Plain-words reasons for the job's state (GET only)."
    )
    events: Optional[list[dict[str, Any]]] = Field(
        default=None, description="The job's history, oldest first (GET only)."
    )


class JobEvents(BaseModel):
    """``GET /api/v1/jobs/{job_id}/events``: a job's history, oldest first."""

    model_config = ConfigDict(extra="allow")

    job_id: str
    events: list[dict[str, Any]] = Field(
        description="Transitions of the job and of its dataset: from, to, at, actor, reason."
    )


class JobPage(BaseModel):
    """One page of ``GET /api/v1/jobs``, newest first."""

    jobs: list[Job]
    total: int = Field(description="How many jobs match the filters (of the jobs scanned, with `param`).")
    limit: int
    offset: int
    notices: list[str] = Field(default_factory=list, description="Where a search reached its bound (`param`, `user`).")


class QueueStats(BaseModel):
    """Counts of jobs by status and type (the monitor overview's ``queue_stats``)."""

    model_config = ConfigDict(extra="allow")

    total_jobs: int
    pending_jobs: int
    running_jobs: int
    completed_jobs: int
    failed_jobs: int
    cancelled_jobs: int
    scheduled_jobs: int = 0
    job_types: dict[str, int]


class HealthStatus(BaseModel):
    """The monitor overview's ``health_status``."""

    model_config = ConfigDict(extra="allow")

    overall: str = Field(description="healthy, warning, critical or unknown.")
    stale_jobs: Optional[int] = None
    failure_rate: Optional[float] = None
    active_workers: Optional[int] = None
    issues: list[str] = Field(default_factory=list)


class QueueOverview(BaseModel):
    """Body of ``GET /api/v1/jobs/queue/stats``."""

    timestamp: datetime
    queue_stats: QueueStats
    health_status: HealthStatus


class Health(BaseModel):
    """Body of ``GET /api/v1/health``."""

    status: Literal["ok", "unavailable"]
    store: str = Field(description="Backend kind: sqlite or mongo.")
    version: str
    detail: Optional[str] = None


class ErrorBody(BaseModel):
    """Every error that is not a validation error: ``{"detail": "one line"}``."""

    detail: str


class FieldError(BaseModel):
    """One field-level problem of a 422 response."""

    loc: list[Union[str, int]]
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    """422: the request was refused, field by field; nothing was written."""

    detail: list[FieldError]
