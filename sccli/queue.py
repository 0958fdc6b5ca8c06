"""The job queue: create, claim, finish, retry, cancel and recover jobs.

Every write is conditional on the status the queue expects (and, for running jobs, on the
lease token of the claim), every transition is logged in ``job_events`` with its actor, and
dataset statuses move only through :func:`sccli.datasets.move_dataset`.
"""

from __future__ import annotations

import getpass
import json
import os
import random
import socket
import uuid as uuidlib
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sccli import domain
from sccli.clock import utcnow
from sccli.datasets import move_dataset
from sccli.errors import InvalidInput, NotFound
from sccli.lifecycle import JobLifecycle
from sccli.store import open_store
from sccli.store.base import JobChange, JobQuery, Store

if TYPE_CHECKING:
    from sccli.settings import Settings


def default_actor() -> str:
    """``cli:<user>@<host>``, the actor of an administrator's action."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = str(os.getuid())
    return f"cli:{user}@{socket.gethostname()}"


def as_store(store_or_client: Store | Any, db_name: str | None = None) -> Store:
    """Accept a Store, a URL, or a pymongo/mongomock client (the original's constructor)."""
    if isinstance(store_or_client, Store):
        return store_or_client
    if store_or_client is None or isinstance(store_or_client, str):
        return open_store(store_or_client, db_name)
    if hasattr(store_or_client, "get_database"):
        from sccli.store.mongo import MongoStore

        return MongoStore.from_client(store_or_client, db_name or "scientistcloud")
    raise InvalidInput(f"cannot open a store from {type(store_or_client).__name__}")


class JobQueue(JobLifecycle):
    """The queue over one store (finishing, cancel, retry and recovery come from JobLifecycle). ``JobQueue(MongoClient(url), "scientistcloud")`` works too."""

    def __init__(
        self,
        store: Store | Any = None,
        db_name: str | None = None,
        *,
        actor: str | None = None,
        retry_base_seconds: float = 30.0,
        retry_max_seconds: float = 3600.0,
        extra_types: Iterable[str] = (),
        rng: random.Random | None = None,
    ) -> None:
        self.store = as_store(store, db_name)
        self.actor = actor or default_actor()
        self.retry_base_seconds = retry_base_seconds
        self.retry_max_seconds = retry_max_seconds
        self.extra_types = frozenset(extra_types)
        self._rng = rng or random.Random()

    @classmethod
    def from_settings(cls, store: Store, settings: Settings, *, actor: str | None = None) -> JobQueue:
        """A queue with the settings' retry delays that knows every plugin job type (settings
        ``handlers`` and the ``sccli.handlers`` entry points)."""
        from sccli.handlers import plugin_types

        return cls(
            store, actor=actor, retry_base_seconds=settings.retry_base_seconds,
            retry_max_seconds=settings.retry_max_seconds, extra_types=plugin_types(settings),
        )

    @property
    def known_types(self) -> list[str]:
        """Built-in and plugin job types, sorted."""
        return sorted({*domain.JOB_TYPE_CONFIGS, *self.extra_types})

    # -- creation ---------------------------------------------------------------------------
    def create_job(
        self,
        dataset_uuid: str,
        job_type: str,
        parameters: dict[str, Any] | None = None,
        priority: int | str | None = None,
        max_attempts: int | None = None,
        timeout_minutes: int | None = None,
        *,
        allow_missing_dataset: bool = False,
        allow_duplicate: bool = False,
        run_after_seconds: float = 0.0,
        parent_job_id: str | None = None,
        migration_id: str | None = None,
        created_by: str | None = None,
        actor: str | None = None,
    ) -> str:
        """Validate and enqueue a job; return its ``job_id``. Nothing is written on bad input."""
        doc = self.build_job(
            dataset_uuid, job_type, parameters, priority, max_attempts, timeout_minutes,
            allow_duplicate=allow_duplicate, run_after_seconds=run_after_seconds,
            parent_job_id=parent_job_id, migration_id=migration_id, created_by=created_by or actor or self.actor,
        )
        dataset = self.store.get_dataset(dataset_uuid)
        if dataset is None and not allow_missing_dataset:
            raise NotFound(f"dataset {dataset_uuid} not found (pass allow_missing_dataset / --allow-missing-dataset to create the job anyway)")
        who = actor or self.actor
        self.store.insert_job(doc, self._event(None, "pending", who, "created", at=doc["created_at"]) | {"job_id": doc["job_id"]})
        stages = domain.DATASET_STAGES.get(job_type)
        if dataset is not None and stages and stages.queued:
            move_dataset(self.store, dataset_uuid, stages.queued, actor=who, reason=f"{job_type} job created", job_id=doc["job_id"])
        return doc["job_id"]

    def build_job(
        self,
        dataset_uuid: str,
        job_type: str,
        parameters: dict[str, Any] | None,
        priority: int | str | None,
        max_attempts: int | None,
        timeout_minutes: int | None,
        *,
        allow_duplicate: bool = False,
        run_after_seconds: float = 0.0,
        parent_job_id: str | None = None,
        migration_id: str | None = None,
        created_by: str | None = None,
    ) -> dict[str, Any]:
        """The validated job document, not yet written (migration batches these)."""
        self.check_type(job_type)
        if not domain.is_valid_uuid(dataset_uuid):
            raise InvalidInput(f"malformed dataset UUID {dataset_uuid!r} (expected 8-4-4-4-12 hex)")
        parameters = _check_parameters(parameters)
        config = domain.job_type_config(job_type)
        try:
            prio = domain.parse_priority(config.priority if priority is None else priority)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        attempts = _positive_int("max_attempts", config.max_attempts if max_attempts is None else max_attempts, 100)
        timeout = _positive_int("timeout_minutes", config.timeout_minutes if timeout_minutes is None else timeout_minutes, 7 * 24 * 60)
        now = utcnow()
        doc: dict[str, Any] = {
            "job_id": str(uuidlib.uuid4()), "dataset_uuid": dataset_uuid, "job_type": job_type,
            "status": "pending", "priority": prio, "parameters": parameters, "attempts": 0,
            "max_attempts": attempts, "timeout_minutes": timeout, "created_at": now, "updated_at": now,
            "started_at": None, "completed_at": None, "run_after": now + timedelta(seconds=run_after_seconds),
            "worker_id": None, "pid": None, "host": None, "lease_token": None, "heartbeat_at": None,
            "cancel_requested": False, "progress_percentage": 0, "progress_message": None, "result": None,
            "error": None, "errors": [], "logs": [], "parent_job_id": parent_job_id,
            "created_by": created_by or self.actor, "migration_id": migration_id,
        }
        if allow_duplicate:
            doc["allow_duplicate"] = True
        else:
            doc["active_key"] = domain.active_key(dataset_uuid, job_type)
        return doc

    def check_type(self, job_type: str) -> None:
        """Refuse job types that are neither built in nor registered as plugins."""
        if not domain.is_builtin_type(job_type) and job_type not in self.extra_types:
            raise InvalidInput(f"unknown job type {job_type!r} (known: {', '.join(self.known_types)})")

    # -- reading ----------------------------------------------------------------------------
    def get_job(self, job_id: str) -> dict[str, Any] | None:
        """The job document, or None."""
        return self.store.get_job(job_id)

    def require_job(self, job_id: str) -> dict[str, Any]:
        job = self.store.get_job(job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return job

    def list_jobs(self, query: JobQuery | None = None, limit: int | None = 50, offset: int = 0) -> list[dict[str, Any]]:
        return self.store.find_jobs(query or JobQuery(), limit=limit, offset=offset)

    # -- claiming ---------------------------------------------------------------------------
    def claim_next(self, worker: str, types: Sequence[str] | None = None, host: str | None = None, pid: int | None = None) -> dict[str, Any] | None:
        """Atomically claim the next job for ``worker``; the job as it is after the claim, or None."""
        now = utcnow()
        host = host or socket.gethostname()
        pid = pid or os.getpid()
        fields = {
            "worker_id": worker, "host": host, "pid": pid, "started_at": now, "heartbeat_at": now,
            "updated_at": now, "lease_token": uuidlib.uuid4().hex, "cancel_requested": False,
            "progress_percentage": 0, "progress_message": None,
        }
        actor = f"worker:{host}:{pid}"
        job = self.store.claim_job(now, fields, types, event={"entity": "job", "at": now, "actor": actor, "reason": f"claimed by {worker}"})
        if job is not None:
            stages = domain.DATASET_STAGES.get(job["job_type"])
            if stages:
                move_dataset(self.store, job["dataset_uuid"], stages.working, actor=actor, reason="job started", job_id=job["job_id"])
        return job

    def heartbeat(self, job_id: str, lease_token: str, progress: float | None = None, message: str | None = None) -> dict[str, Any] | None:
        """Refresh a running job's heartbeat (and progress); None when the lease is lost."""
        fields: dict[str, Any] = {"heartbeat_at": utcnow()}
        if progress is not None:
            fields["progress_percentage"] = round(max(0.0, min(100.0, float(progress))), 1)
        if message is not None:
            fields["progress_message"] = str(message)[:500]
        return self.store.update_job(job_id, {"status": "running", "lease_token": lease_token}, JobChange(set=fields))

    def add_log(self, job_id: str, message: str) -> None:
        """Append a capped ``{timestamp, message}`` entry to the job's ``logs``."""
        self.store.update_jobs(JobQuery(job_ids=[job_id]), JobChange(push={"logs": {"timestamp": utcnow(), "message": message}}))

    # -- helpers ----------------------------------------------------------------------------
    def _jitter(self) -> float:
        return self._rng.uniform(-0.5, 0.5)


def _check_parameters(parameters: Any) -> dict[str, Any]:
    if parameters is None:
        return {}
    if not isinstance(parameters, dict):
        raise InvalidInput(f"parameters must be a JSON object, got {type(parameters).__name__}")
    try:
        json.dumps(parameters)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"parameters are not JSON-serialisable: {exc}") from None
    return parameters


def _positive_int(name: str, value: Any, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidInput(f"{name} must be a whole number from 1 to {maximum}, got {value!r}")
    return value
