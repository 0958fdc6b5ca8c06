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

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sccli.store.contract_leases import LeaseContract
from sccli.store.contract_ledger import LedgerContract
from sccli.store.contract_monitor import MonitorContract
from sccli.store.contract_schedules import ScheduleContract
from sccli.store.contract_tallies import TallyContract
from sccli.store.queries import LOGS_CAP, ClaimFilter, JobChange, JobQuery, prefix_upper_bound

__all__ = [
    "LOGS_CAP", "Before", "ClaimFilter", "JobChange", "JobQuery", "OutboxIs", "SchemaProblem", "Store",
    "collection_names",
    "prefix_upper_bound",
]

if TYPE_CHECKING:
    from sccli.settings import Settings

#: Fields a backend can filter on in ``expect`` (indexed columns on SQLite).
EXPECTABLE_FIELDS = ("status", "lease_token", "worker_id", "attempts", "heartbeat_at", "priority", "run_after")


@dataclass(frozen=True)
class Before:
    """An ``expect`` value meaning "this time field is set and earlier than ``moment``"
    (or missing, when ``or_missing``): the stale sweeper's fence on an old heartbeat, the
    promotion's on a start time that has come."""

    moment: datetime
    or_missing: bool = True


@dataclass(frozen=True)
class OutboxIs:
    """An ``expect`` value on ``outbox`` (MongoDB only): the job's outbox holds exactly the batches
    of these ids, in this order, as the writer's copy had them. A write that replaces the outbox
    with its own batch is fenced on it, so no batch the writer did not run can be dropped."""

    ids: tuple[str, ...]



def collection_names() -> dict[str, str]:
    """Contract names, overridable by COLLECTION_JOBS / COLLECTION_VISSTOREDATAS."""
    return {
        "jobs": os.environ.get("COLLECTION_JOBS", "jobs"),
        "datasets": os.environ.get("COLLECTION_VISSTOREDATAS", "visstoredatas"),
        "events": "job_events",
        "workers": "workers",
        "migrations": "job_migrations",
        "controls": "queue_controls",
        "tallies": "job_tallies",
        "schedules": "job_schedules",
        "leases": "job_leases",
    }


@dataclass(frozen=True)
class SchemaProblem:
    """Something in the store's schema it cannot rely on, and the command that fixes it."""

    detail: str
    fix: str


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
    #: True when :meth:`atomic` makes a group of writes one transaction (SQLite). Without it
    #: (MongoDB) a transition carries its follow-ups in an outbox on the job document.
    atomic_followups: bool = False
    #: True when several hosts judge time by the store's clock (MongoDB), so a skew is worth checking.
    shared_clock: bool = False
    #: True when the store can stream changes of ``jobs`` (MongoDB's change streams) to wake services.
    change_streams: bool = False
    #: What to check when :meth:`ping` fails (``sc doctor``'s advice).
    unreachable_fix: str = "check the store URL"

    @property
    @abstractmethod
    def schedules(self) -> ScheduleContract:
        """The recurring schedules (:mod:`sccli.store.contract_schedules`), a part the store owns."""

    @property
    @abstractmethod
    def leases(self) -> LeaseContract:
        """Named fleet leases (:mod:`sccli.store.contract_leases`), a part the store owns."""

    @property
    @abstractmethod
    def ledger(self) -> LedgerContract:
        """Dataset pages, migration batches and the ``job_migrations`` ledger (:mod:`sccli.store.contract_ledger`)."""

    @property
    @abstractmethod
    def stats(self) -> MonitorContract:
        """The monitor's figures computed in the database (:mod:`sccli.store.contract_monitor`)."""

    @property
    @abstractmethod
    def tallies(self) -> TallyContract:
        """Finished-job rows and stored day tallies (:mod:`sccli.store.contract_tallies`)."""

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Group writes: one transaction where the backend has them (``atomic_followups``),
        else a no-op (each write stays atomic on its own)."""
        yield

    def tune_for_service(self, settings: Settings) -> None:
        """Adjust this store for a long-running service (before its first connection); the CLI
        keeps the defaults."""
        return None  # a backend without service tuning keeps its defaults

    def missing_file(self) -> str | None:
        """The store's file when it is one that does not exist yet (pinging would create it)."""
        return None

    def now(self) -> datetime:
        """The store's clock (UTC): every host judges deadlines and staleness on it."""
        from sccli.clock import utcnow

        return utcnow()

    # -- life cycle -------------------------------------------------------------------------
    @abstractmethod
    def ensure_schema(self) -> None:
        """Create tables/collections and indexes idempotently."""

    @abstractmethod
    def ping(self, write: bool = False) -> None:
        """Raise StoreUnavailable when the store cannot be reached within its timeout
        (``write``: nor written to, e.g. a SQLite file another process keeps locked)."""

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
        fields: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Jobs matching ``query``; ``sort`` is (field, 1 ascending | -1 descending) pairs.
        ``fields``: only these top-level fields of each job (those it has), e.g. for a report
        that must not fetch whole documents; None: every field."""

    def due_scheduled(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Scheduled jobs whose ``run_after`` has come (``<= now``), earliest first: the sweeper's
        promotion, served by an index of scheduled jobs by start time."""
        from sccli.domain import JobStatus

        return self.find_jobs(
            JobQuery(status=[JobStatus.SCHEDULED.value], run_after_before=now), sort=(("run_after", 1),), limit=limit
        )

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
        push: dict[str, Any] | None = None,
        narrow: ClaimFilter | None = None,
    ) -> dict[str, Any] | None:
        """Atomically take the next claimable job and return it as it is AFTER the claim.

        Claimable: ``status=pending`` and ``run_after <= now`` (or no ``run_after``: jobs
        written by others) and ``job_type in types``, chosen by priority ascending then
        ``created_at``. The claim sets ``status=running`` plus ``fields``, appends ``push``
        (list field → item: the outbox) and increments ``attempts``. It logs no event: the
        caller's follow-ups (transaction or outbox) record the transition. ``narrow``: only those
        claimable jobs it admits."""

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
    def touch_job(self, job_id: str, expect: dict[str, Any], fields: dict[str, Any]) -> bool:
        """Set top-level ``fields`` (heartbeat, progress) if the job matches ``expect``; a plain
        update that returns no document, only whether it matched."""

    def touch_jobs(self, fences: Sequence[tuple[str, dict[str, Any]]], fields: dict[str, Any]) -> list[bool]:
        """:meth:`touch_job` for each ``(job_id, expect)``, each fenced on its own ``expect``;
        whether each matched (a backend may write them all at once)."""
        return [self.touch_job(job_id, expect, fields) for job_id, expect in fences]

    @abstractmethod
    def update_jobs(self, query: JobQuery, change: JobChange) -> int:
        """Apply ``change`` to every matching job (heartbeats); return how many changed."""

    @abstractmethod
    def delete_jobs(self, query: JobQuery) -> int:
        """Delete matching jobs; return how many."""

    # -- events -----------------------------------------------------------------------------
    def pull_outbox(self, job_ids: Sequence[str], ack: str) -> None:
        """Take the outbox batches marked ``ack`` (run already) off the jobs ``job_ids`` (a backend
        may do it in one write for all; stores with transactions have no outbox)."""
        for job_id in job_ids:
            self.update_job(job_id, {}, JobChange(pull={"outbox": {"ack": ack}}))

    def insert_events(self, events: Sequence[dict[str, Any]]) -> None:
        """:meth:`insert_event` for each of ``events``, in order (a backend may write them in one
        round trip; each with an ``event_id`` still at most once)."""
        for event in events:
            self.insert_event(event)

    @abstractmethod
    def insert_event(self, event: dict[str, Any]) -> None:
        """Append a transition record {job_id, from, to, at, actor, reason, ...}. An event with
        an ``event_id`` is written at most once (replayed follow-ups insert it again)."""

    @abstractmethod
    def find_events(self, job_id: str) -> list[dict[str, Any]]:
        """A job's events, oldest first."""

    @abstractmethod
    def delete_events(self, job_ids: Sequence[str]) -> int:
        """Delete the events of these jobs; return how many."""

    @abstractmethod
    def delete_events_before(self, before: datetime, limit: int) -> int:
        """Delete the ``limit`` oldest events (of any job) recorded before ``before`` (on MongoDB
        also those recorded at the same instant as the last of them); return how many
        (retention ``events_days``: call again while it returns at least ``limit``)."""

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
    def find_dataset_uuids(self, user: str | None, name_contains: str | None, limit: int) -> list[str]:
        """The uuids of at most ``limit`` datasets of ``user`` (exact) whose ``name`` contains
        ``name_contains`` (any case). Neither field has an index on the portal's collection: a
        bounded scan (``query_shapes.SCANS``)."""

    @abstractmethod
    def update_dataset(
        self, uuid: str, expect_status: str | None, fields: dict[str, Any]
    ) -> bool:
        """Set ``fields`` on the dataset if its status is ``expect_status`` (None: any).
        Return whether it was written."""

    def move_dataset_from(self, uuid: str, sources: Sequence[str], fields: dict[str, Any]) -> dict[str, Any] | None:
        """Set ``fields`` on the dataset if its status is one of ``sources`` and its
        ``status_move_id`` is not ``fields``' (a move not taken yet); the dataset as it was
        before, or None when nothing was written. A backend may do it in one round trip."""
        doc = self.get_dataset(uuid)
        if doc is None or doc.get("status") not in sources or doc.get("status_move_id") == fields.get("status_move_id"):
            return None
        return doc if self.update_dataset(uuid, doc["status"], fields) else None

    # -- queue controls (pause) -------------------------------------------------------------
    @abstractmethod
    def list_controls(self) -> list[dict[str, Any]]:
        """Every queue control document (``{name, kind, ...}``; pauses are ``kind="pause"``)."""

    @abstractmethod
    def put_control(self, doc: dict[str, Any]) -> None:
        """Create or replace the control document keyed by ``name``."""

    @abstractmethod
    def delete_control(self, name: str) -> bool:
        """Remove a control document; whether it existed."""

    @abstractmethod
    def swap_control(self, doc: dict[str, Any], version: int | None) -> bool:
        """Compare-and-swap of the control keyed by ``doc["name"]``: replace it with ``doc`` only
        if its stored ``version`` equals ``version`` (None: insert it only if absent). Whether
        it was written: the race-free step of the fleet-wide caps and rates."""

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

    def commit_count(self) -> int | None:
        """How many transactions that changed something this store object committed, where an
        empty transaction can succeed while real ones fail (SQLite on a full disk): only a real
        commit says the store is back. None where a probe's round trip is the truth (MongoDB)."""
        return None

    def schema_problems(self) -> list[SchemaProblem]:
        """Indexes present under the right keys but with options the store cannot rely on (none
        on a backend that creates every index itself)."""
        return []

    def missing_indexes(self) -> dict[str, list[str]]:
        """Expected indexes the store lacks, per collection key (``sc migrate validate``, ``sc doctor``)."""
        expected = self.ledger.expected_index_names()  # first: it creates the ledger's tables on demand
        actual = self.index_names()
        missing = {key: sorted(set(names) - set(actual.get(key, []))) for key, names in expected.items()}
        return {key: names for key, names in missing.items() if names}
