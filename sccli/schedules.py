"""Recurring schedules: add, list, show, pause, resume, remove, run now (the library behind
``sc schedule`` and ``/api/v1/schedules``). Firing them is :mod:`sccli.schedule_firing`.

A schedule is a ``job_schedules`` document (fields in the contract); its ``next_run_at`` is the
next fire time computed by :mod:`sccli.cron` in its timezone. Every input is checked before
anything is written: a malformed cron or timezone, an unknown type or bad parameters are
:class:`~sccli.errors.InvalidInput` (exit 2).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sccli import cron, domain
from sccli.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from sccli.queue import JobQueue
    from sccli.store.base import Store

CATCH_UP = ("latest", "none")
#: Where the fire job ids come from: uuid5(FIRE_NAMESPACE, "<schedule_id>@<fire time>").
FIRE_NAMESPACE = uuid.UUID("5c4ed01e-0000-4000-8000-0000000000a1")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


@dataclass(frozen=True)
class ScheduleSpec:
    """What an operator gives to create a schedule."""

    name: str
    job_type: str
    cron: str
    dataset_uuid: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    priority: int | str | None = None
    timezone: str = "UTC"
    catch_up: str = "latest"


def fire_job_id(schedule_id: str, at: datetime) -> str:
    """The id of the job a schedule fires at ``at``: every service derives the same one."""
    return str(uuid.uuid5(FIRE_NAMESPACE, f"{schedule_id}@{at.timestamp():.3f}"))


def whole_second(moment: datetime) -> datetime:
    """``moment`` without its fraction: stored fences compare equal on every backend."""
    return moment.replace(microsecond=0)


def timing(doc: dict[str, Any], allow_every: bool = True) -> tuple[cron.Cron, Any]:
    """A stored schedule's parsed cron and timezone (stored ones were checked when added)."""
    try:
        return cron.parse(doc["cron"], allow_every=allow_every), cron.timezone(doc.get("timezone"))
    except cron.CronError as exc:
        raise InvalidInput(str(exc)) from None


def check_timing(expr: str, tz: str | None, allow_every: bool) -> tuple[cron.Cron, Any]:
    """Parse a cron and a timezone given by an operator (InvalidInput, one line, when malformed)."""
    try:
        return cron.parse(expr, allow_every=allow_every), cron.timezone(tz)
    except cron.CronError as exc:
        raise InvalidInput(str(exc)) from None


def add_schedule(queue: JobQueue, spec: ScheduleSpec, *, actor: str, allow_every: bool = False) -> dict[str, Any]:
    """Check ``spec`` and store a new schedule whose first fire is the next fire time after now."""
    store = queue.store
    if not _NAME.match(spec.name or ""):
        raise InvalidInput(f"schedule name {spec.name[:70]!r}: 1-64 letters, digits, '_', '.', ':' or '-'")
    if spec.catch_up not in CATCH_UP:
        raise InvalidInput(f"catch_up must be one of {', '.join(CATCH_UP)}, got {spec.catch_up!r}")
    parsed, tz = check_timing(spec.cron, spec.timezone, allow_every)
    queue.check_type(spec.job_type)
    if spec.dataset_uuid is not None and not domain.is_valid_uuid(spec.dataset_uuid):
        raise InvalidInput(f"malformed dataset UUID {spec.dataset_uuid!r} (expected 8-4-4-4-12 hex)")
    parameters = queue.check_parameters(spec.job_type, dict(spec.parameters))
    try:
        priority = domain.parse_priority(
            domain.job_type_config(spec.job_type).priority if spec.priority is None else spec.priority
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if spec.dataset_uuid is not None and store.get_dataset(spec.dataset_uuid) is None:
        raise NotFound(f"dataset {spec.dataset_uuid} not found")
    now = store.now()
    doc = {
        "schedule_id": str(uuid.uuid4()),
        "name": spec.name,
        "job_type": spec.job_type,
        "dataset_uuid": spec.dataset_uuid,
        "parameters": parameters,
        "priority": priority,
        "cron": parsed.text,
        "timezone": spec.timezone or "UTC",
        "catch_up": spec.catch_up,
        "paused": False,
        "next_run_at": cron.next_after(parsed, now, tz),
        "last_run_at": None,
        "last_job_id": None,
        "created_by": actor,
        "updated_at": now,
    }
    store.schedules.insert(doc)
    return doc


def get_schedule(store: Store, name: str) -> dict[str, Any]:
    """A schedule by name (or id); NotFound otherwise."""
    doc = store.schedules.by_name(name) or (store.schedules.get(name) if domain.is_valid_uuid(name) else None)
    if doc is None:
        raise NotFound(f"schedule {name!r} not found")
    return doc


def list_schedules(store: Store) -> list[dict[str, Any]]:
    """Every schedule, by name."""
    return store.schedules.all()


def set_paused(store: Store, name: str, paused: bool, *, actor: str, allow_every: bool = True) -> dict[str, Any]:
    """Pause or resume. A resumed schedule next fires at its next fire time after now (the
    paused stretch is not caught up), or at once when a fire was interrupted meanwhile."""
    doc = get_schedule(store, name)
    now = store.now()
    fields: dict[str, Any] = {"paused": paused, "updated_at": now, "updated_by": actor}
    if not paused and doc.get("paused"):
        parsed, tz = timing(doc, allow_every)
        fields["next_run_at"] = whole_second(now) if doc.get("firing_at") else cron.next_after(parsed, now, tz)
    store.schedules.update(doc["schedule_id"], fields)
    return get_schedule(store, doc["schedule_id"])


def remove_schedule(store: Store, name: str) -> dict[str, Any]:
    """Delete a schedule (jobs it fired stay); returns what was deleted."""
    doc = get_schedule(store, name)
    if not store.schedules.delete(doc["schedule_id"]):
        raise NotFound(f"schedule {name!r} not found")
    return doc


def schedule_fires(store: Store, doc: dict[str, Any], limit: int = 10) -> list[dict[str, Any]]:
    """The latest fire records of a schedule (newest first)."""
    return list(reversed(store.find_events(fire_log_key(doc["schedule_id"]))))[:limit]


def fire_log_key(schedule_id: str) -> str:
    """The ``job_id`` key under which a schedule's fire records are kept in ``job_events``."""
    return f"schedule:{schedule_id}"


def describe(store: Store, doc: dict[str, Any]) -> dict[str, Any]:
    """A schedule with its last fire's job outcome (``last_job_status``) for listings and pages."""
    out = dict(doc)
    out.pop("updated_by", None)
    job = store.get_job(doc["last_job_id"]) if doc.get("last_job_id") else None
    out["last_job_status"] = job.get("status") if job else None
    return out
