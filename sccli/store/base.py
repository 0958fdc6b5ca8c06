"""The storage contract: every backend implements :class:`Store`, documented once here.

Backends store five collections (tables on SQLite) named by the contract: ``jobs``,
``visstoredatas`` (datasets keyed by ``uuid``), ``job_events``, ``workers`` and
``job_migrations``. Documents go in and come out as plain dicts; every datetime that comes
out is timezone-aware UTC and no backend-private key (``_id``) leaks out.

The queue, service, monitor and migration layers express reads as :class:`JobQuery` and
writes as :class:`JobChange`; each backend translates them natively (SQL on SQLite, query
documents and update operators on MongoDB). Conditional writes take ``expect``, a mapping
of top-level field to required value (a tuple/list means "one of"), so that a write about
a job happens only in the state the writer believes it is in.
"""

from __future__ import annotations

import copy
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Fields a backend can filter on in ``expect`` (indexed columns on SQLite).
EXPECTABLE_FIELDS = ("status", "lease_token", "worker_id", "attempts")

#: At most this many entries are kept in a job's ``logs`` list.
LOGS_CAP = 100


def collection_names() -> dict[str, str]:
    """Contract names, overridable by COLLECTION_JOBS / COLLECTION_VISSTOREDATAS."""
    return {
        "jobs": os.environ.get("COLLECTION_JOBS", "jobs"),
        "datasets": os.environ.get("COLLECTION_VISSTOREDATAS", "visstoredatas"),
        "events": "job_events",
        "workers": "workers",
        "migrations": "job_migrations",
    }


@dataclass
class JobQuery:
    """A backend-neutral filter on jobs; fields left None do not filter."""

    status: Sequence[str] | None = None
    job_type: Sequence[str] | None = None
    dataset_uuid: str | None = None
    dataset_uuids: Sequence[str] | None = None
    job_ids: Sequence[str] | None = None
    worker_id: str | None = None
    parent_job_id: str | None = None
    migration_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_before: datetime | None = None
    completed_after: datetime | None = None
    completed_before: datetime | None = None
    heartbeat_before: datetime | None = None
    run_after_before: datetime | None = None
    cancel_requested: bool | None = None
    priorities: Sequence[int] | None = None


@dataclass
class JobChange:
    """An update: fields to set, to remove, to increment and list items to append."""

    set: dict[str, Any] = field(default_factory=dict)
    unset: Sequence[str] = ()
    inc: dict[str, int] = field(default_factory=dict)
    push: dict[str, Any] = field(default_factory=dict)

    def apply(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Return a copy of ``doc`` with this change applied (used by non-native backends)."""
        out = copy.deepcopy(doc)
        out.update(copy.deepcopy(self.set))
        for key in self.unset:
            out.pop(key, None)
        for key, amount in self.inc.items():
            out[key] = (out.get(key) or 0) + amount
        for key, item in self.push.items():
            items = list(out.get(key) or [])
            items.append(copy.deepcopy(item))
            out[key] = items[-LOGS_CAP:] if key == "logs" else items
        return out


def matches_expect(doc: dict[str, Any], expect: dict[str, Any] | None) -> bool:
    """True when ``doc`` satisfies every ``expect`` entry (tuple/list values mean one-of)."""
    for key, wanted in (expect or {}).items():
        value = doc.get(key)
        if isinstance(wanted, (tuple, list, set, frozenset)):
            if value not in wanted:
                return False
        elif value != wanted:
            return False
    return True


class Store(ABC):
    """The storage contract shared by every backend.

    Implementations must be safe to use from several processes at once (each process opens its
    own connection lazily; a forked child never reuses its parent's) and must make
    :meth:`claim_job` atomic across processes and hosts.
    """

    #: "sqlite" or "mongo"; capabilities are attributes, not isinstance checks.
    kind: str = "abstract"
    #: The URL the store was opened with, password redacted (safe for output and logs).
    display_url: str = ""

    # -- life cycle -------------------------------------------------------------------------
    @abstractmethod
    def ensure_schema(self) -> None:
        """Create tables/collections and indexes idempotently."""

    @abstractmethod
    def ping(self) -> None:
        """Raise StoreUnavailable when the store cannot be reached within its timeout."""

    @abstractmethod
    def close(self) -> None:
        """Release connections held by this process."""

    @abstractmethod
    def index_names(self) -> dict[str, list[str]]:
        """Index names per collection/table, for validation and explain tests."""

    # -- jobs -------------------------------------------------------------------------------
    @abstractmethod
    def insert_job(self, doc: dict[str, Any], event: dict[str, Any] | None = None) -> None:
        """Insert a new job (and its creation event). Raise Conflict when its ``active_key``
        is already held by another pending or running job."""

    @abstractmethod
    def get_job(self, job_id: str) -> dict[str, Any] | None:
        """The job document, or None."""

    @abstractmethod
    def find_jobs(
        self,
        query: JobQuery,
        sort: Sequence[tuple[str, int]] = (("created_at", -1),),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Jobs matching ``query``; ``sort`` is (field, 1 ascending | -1 descending) pairs."""

    @abstractmethod
    def count_jobs(self, query: JobQuery) -> int:
        """How many jobs match."""

    @abstractmethod
    def count_jobs_by(self, group_field: str, query: JobQuery) -> dict[str, int]:
        """Counts of matching jobs grouped by ``status``, ``job_type`` or ``dataset_uuid``,
        computed in the database."""

    @abstractmethod
    def claim_job(
        self,
        now: datetime,
        fields: dict[str, Any],
        types: Sequence[str] | None = None,
        event: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Atomically take the next claimable job and return it as it is AFTER the claim.

        Claimable: ``status=pending`` and ``run_after <= now`` (and ``job_type in types``),
        chosen by priority ascending then ``created_at``. The claim sets ``status=running``
        plus ``fields`` and increments ``attempts``; ``event`` (without job_id/from) is logged.
        """

    @abstractmethod
    def update_job(
        self,
        job_id: str,
        expect: dict[str, Any],
        change: JobChange,
        event: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Apply ``change`` only if the job matches ``expect``; return the document AFTER the
        update, or None when the job is missing or in another state. ``event`` is logged
        only when the write happened. Raise Conflict if a set ``active_key`` is taken."""

    @abstractmethod
    def update_jobs(self, query: JobQuery, change: JobChange) -> int:
        """Apply ``change`` to every matching job (heartbeats); return how many changed."""

    @abstractmethod
    def delete_jobs(self, query: JobQuery) -> int:
        """Delete matching jobs; return how many."""

    # -- events -----------------------------------------------------------------------------
    @abstractmethod
    def insert_event(self, event: dict[str, Any]) -> None:
        """Append a transition record {job_id, from, to, at, actor, reason, ...}."""

    @abstractmethod
    def find_events(self, job_id: str) -> list[dict[str, Any]]:
        """A job's events, oldest first."""

    @abstractmethod
    def delete_events(self, job_ids: Sequence[str]) -> int:
        """Delete the events of these jobs; return how many."""

    # -- datasets ---------------------------------------------------------------------------
    @abstractmethod
    def insert_dataset(self, doc: dict[str, Any]) -> None:
        """Insert a dataset document keyed by ``uuid``; Conflict if it exists."""

    @abstractmethod
    def get_dataset(self, uuid: str) -> dict[str, Any] | None:
        """The dataset document, or None."""

    @abstractmethod
    def find_datasets(
        self,
        statuses: Sequence[str] | None = None,
        uuids: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Datasets filtered by status and/or uuid, ordered by uuid."""

    @abstractmethod
    def update_dataset(
        self, uuid: str, expect_status: str | None, fields: dict[str, Any]
    ) -> bool:
        """Set ``fields`` on the dataset if its status is ``expect_status`` (None: any).
        Return whether it was written."""

    # -- workers ----------------------------------------------------------------------------
    @abstractmethod
    def upsert_worker(self, doc: dict[str, Any]) -> None:
        """Create or replace a service's heartbeat document keyed by ``worker_id``."""

    @abstractmethod
    def list_workers(self) -> list[dict[str, Any]]:
        """Every worker document, newest heartbeat first."""

    @abstractmethod
    def delete_worker(self, worker_id: str) -> None:
        """Remove a worker document."""
