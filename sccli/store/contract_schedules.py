"""The recurring schedules' part of the store contract: ``store.schedules`` (collection ``job_schedules``).

A schedule document has the contract's fields (``schedule_id``, ``name`` (unique), ``job_type``,
``dataset_uuid``, ``parameters``, ``priority``, ``cron``, ``timezone``, ``catch_up``, ``paused``,
``next_run_at``, ``last_run_at``, ``last_job_id``, ``created_by``, ``updated_at``) plus what the
firing keeps (``firing_at``, ``last_outcome``). Every datetime in and out is aware UTC with whole
milliseconds (MongoDB's precision), so a value read back compares equal in a conditional write.
What a fire means is in :mod:`sccli.schedules`; this part only stores and fences.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

#: Fields a conditional schedule write may require (``expect``): the firing's fences.
SCHEDULE_EXPECTABLE = ("next_run_at", "firing_at", "paused")


class ScheduleContract(ABC):
    """Schedules by id and name, the due ones, and writes fenced on ``next_run_at``."""

    @abstractmethod
    def insert(self, doc: dict[str, Any]) -> None:
        """Store a new schedule; :class:`~sccli.errors.Conflict` when its id (or, where the
        backend enforces it, its name) is taken."""

    @abstractmethod
    def get(self, schedule_id: str) -> dict[str, Any] | None:
        """One schedule by id (None when missing)."""

    @abstractmethod
    def by_name(self, name: str) -> dict[str, Any] | None:
        """One schedule by its unique name (None when missing)."""

    @abstractmethod
    def all(self) -> list[dict[str, Any]]:
        """Every schedule, by name."""

    @abstractmethod
    def due(self, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
        """Schedules not paused whose ``next_run_at <= now``, earliest first, at most ``limit``."""

    @abstractmethod
    def update(
        self,
        schedule_id: str,
        fields: dict[str, Any],
        *,
        expect: dict[str, Any] | None = None,
        unset: Sequence[str] = (),
    ) -> bool:
        """Set ``fields`` and remove ``unset`` on one schedule, only if each ``expect`` field (one of
        :data:`SCHEDULE_EXPECTABLE`) still has exactly that value (None: missing or null); True
        when written. Two writers expecting the same ``next_run_at``: exactly one wins."""

    @abstractmethod
    def delete(self, schedule_id: str) -> bool:
        """Remove one schedule; True when it existed."""
