"""The migration ledger's part of the store contract: batched reads and writes for ``sc migrate``.

A part the store owns, ``store.ledger`` (:attr:`sccli.store.base.Store.ledger`): documented here
once, implemented by each backend as a small object handed the backend's connection.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any


class LedgerContract(ABC):
    """Datasets in pages, migration batches and the ``job_migrations`` ledger."""

    # -- migration ledger (sccli.migration) -------------------------------------------------
    # Batched reads and writes for ``sc migrate`` and the ``job_migrations`` ledger. The ledger
    # holds one header per run (``kind="migration"``, keyed by ``migration_id``) and one entry
    # per migrated dataset (``kind="entry"``, keyed by ``entry_id = "<migration_id>:<uuid>"``)
    # with ``dataset_uuid``, ``status_before``, ``job_id`` and ``job_type``.
    @abstractmethod
    def count_datasets_by_status(self) -> dict[str, int]:
        """How many datasets have each status, computed in the database."""

    @abstractmethod
    def insert_datasets(self, docs: Sequence[dict[str, Any]]) -> None:
        """Insert many dataset documents at once (imports, fixtures, benchmarks); Conflict when
        a uuid exists already (SQLite then writes none of them)."""

    @abstractmethod
    def find_datasets_page(
        self, statuses: Sequence[str] | None, after: str | None, limit: int, *, slim: bool = False
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` datasets (of ``statuses``, None: any) with ``uuid > after``, ordered by
        uuid; ``slim`` returns only ``{uuid, status}`` of each (no document decoded)."""

    @abstractmethod
    def find_active_jobs(self, dataset_uuids: Sequence[str]) -> list[dict[str, Any]]:
        """Pending and running jobs of these datasets as ``{job_id, dataset_uuid, job_type,
        status, created_at}``, in one query per chunk of uuids (looked up by dataset, however
        many pending jobs the queue holds)."""

    @abstractmethod
    def job_states(self, job_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``{job_id: {status, attempts}}`` of those of ``job_ids`` that exist (one query per chunk)."""

    @abstractmethod
    def dataset_statuses(self, uuids: Sequence[str]) -> dict[str, str | None]:
        """``{uuid: status}`` of those of ``uuids`` that exist (one query per chunk)."""

    @abstractmethod
    def insert_migration_batch(
        self, jobs: Sequence[dict[str, Any]], entries: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]]
    ) -> list[str]:
        """Insert built jobs with their ledger entries and creation events as one batch.

        A job whose ``active_key`` is already held is not inserted, nor are its entry and events
        (matched by ``job_id``); return the ids of those jobs. SQLite writes the batch in one
        transaction; MongoDB writes the entries and events first, then the jobs, then removes
        the entries and events of jobs the unique ``active_key`` refused (so no job ever exists
        that the ledger does not know).
        """

    @abstractmethod
    def delete_unstarted_jobs(self, job_ids: Sequence[str]) -> list[str]:
        """Delete those of ``job_ids`` that are still pending with 0 attempts; return their ids."""

    @abstractmethod
    def insert_migration(self, doc: dict[str, Any]) -> None:
        """Insert a migration header ``{migration_id, kind: "migration", ...}``."""

    @abstractmethod
    def update_migration(self, migration_id: str, fields: dict[str, Any]) -> bool:
        """Set ``fields`` on a migration header; return whether it exists."""

    @abstractmethod
    def get_migration(self, migration_id: str) -> dict[str, Any] | None:
        """A migration header, or None."""

    @abstractmethod
    def list_migrations(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Migration headers, newest first."""

    @abstractmethod
    def find_migration_entries(
        self,
        migration_id: str | None = None,
        dataset_uuid: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        pending_only: bool = False,
    ) -> list[dict[str, Any]]:
        """Ledger entries ordered by ``entry_id`` (with ``entry_id > after``); ``pending_only``
        leaves out entries already marked ``rolled_back: true``."""

    @abstractmethod
    def update_migration_entries(self, entry_ids: Sequence[str], fields: dict[str, Any]) -> int:
        """Set top-level ``fields`` on these ledger entries; return how many."""

    @abstractmethod
    def expected_index_names(self) -> dict[str, list[str]]:
        """The index names this backend creates, per collection key (checked by ``sc migrate validate``)."""
