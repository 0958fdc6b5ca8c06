"""A new job's document, built from its request and its type's defaults (no I/O).

:class:`sccli.queue.JobQueue` validates the type, the dataset id and the parameters against
their declaration, reads the defaults (the type table, a plugin's, the fleet-wide overrides)
and the store's clock, then asks :func:`new_job` for the document it writes.
"""

from __future__ import annotations

import json
import uuid as uuidlib
from datetime import datetime, timedelta
from typing import Any

from sccli import domain
from sccli.domain import JobStatus
from sccli.errors import InvalidInput
from sccli.limits import check_storable


def new_job(
    dataset_uuid: str,
    job_type: str,
    parameters: dict[str, Any],
    config: dict[str, Any],
    now: datetime,
    *,
    priority: int | str | None,
    max_attempts: int | None,
    timeout_minutes: int | None,
    run_after_seconds: float,
    run_at: datetime | None,
    job_id: str | None,
    parent_job_id: str | None,
    migration_id: str | None,
    created_by: str,
    allow_duplicate: bool,
) -> dict[str, Any]:
    """The job document: ``config`` gives the defaults of what the request leaves out; ``run_at``
    in the future makes it ``scheduled``, ``run_after_seconds`` a pending job started no earlier."""
    try:
        prio = domain.parse_priority(config["priority"] if priority is None else priority)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    attempts = positive_int("max_attempts", config["max_attempts"] if max_attempts is None else max_attempts, 100)
    timeout_given = config["timeout_minutes"] if timeout_minutes is None else timeout_minutes
    timeout = positive_int("timeout_minutes", timeout_given, 7 * 24 * 60)
    run_after = now + timedelta(seconds=run_after_seconds)
    if run_at is not None and run_at > now:
        run_after = run_at
    scheduled = run_after > now and run_at is not None
    doc: dict[str, Any] = {
        "job_id": job_id or str(uuidlib.uuid4()), "dataset_uuid": dataset_uuid, "job_type": job_type,
        "status": (JobStatus.SCHEDULED if scheduled else JobStatus.PENDING).value, "priority": prio,
        "parameters": parameters, "attempts": 0, "max_attempts": attempts, "timeout_minutes": timeout,
        "created_at": now, "updated_at": now, "started_at": None, "completed_at": None, "run_after": run_after,
        "worker_id": None, "pid": None, "host": None, "lease_token": None, "heartbeat_at": None,
        "cancel_requested": False, "progress_percentage": 0, "progress_message": None, "result": None,
        "error": None, "errors": [], "logs": [], "parent_job_id": parent_job_id,
        "created_by": created_by, "migration_id": migration_id,
    }
    if not allow_duplicate:
        doc["active_key"] = domain.active_key(dataset_uuid, job_type)
    return doc


def start_time(now: datetime, run_at: datetime | None, delay: float | timedelta | None) -> datetime | None:
    """When a new job may start (UTC), from an absolute time or a delay; None: at once."""
    from sccli.clock import as_utc
    from sccli.lifecycle import MAX_DELAY_SECONDS

    if run_at is not None and delay is not None:
        raise InvalidInput("give a start time or a delay, not both")
    if delay is not None:
        seconds = delay.total_seconds() if isinstance(delay, timedelta) else delay
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= MAX_DELAY_SECONDS:
            raise InvalidInput(f"a start delay must be from 0 to {MAX_DELAY_SECONDS:.0f} seconds, got {delay!r}")
        return now + timedelta(seconds=seconds)
    if run_at is None:
        return None
    if not isinstance(run_at, datetime):
        raise InvalidInput(f"a start time must be a datetime, got {type(run_at).__name__}")
    start: datetime = as_utc(run_at)
    if (start - now).total_seconds() > MAX_DELAY_SECONDS:
        raise InvalidInput(f"a start time must be within {MAX_DELAY_SECONDS / 86400:.0f} days, got {start.isoformat()}")
    return start


def storable_parameters(parameters: Any) -> dict[str, Any]:
    """``parameters`` as a JSON object a store can hold (None: ``{}``), else ``InvalidInput``."""
    if parameters is None:
        return {}
    if not isinstance(parameters, dict):
        raise InvalidInput(f"parameters must be a JSON object, got {type(parameters).__name__}")
    try:
        json.dumps(parameters)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"parameters are not JSON-serialisable: {exc}") from None
    check_storable(parameters, "parameters")
    return parameters


def positive_int(name: str, value: Any, maximum: int) -> int:
    """``value`` if it is a whole number from 1 to ``maximum``, else ``InvalidInput`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidInput(f"{name} must be a whole number from 1 to {maximum}, got {value!r}")
    return value
