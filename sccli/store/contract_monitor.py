"""The monitor's part of the store contract: figures computed inside the database.

A part the store owns, ``store.stats`` (:attr:`sccli.store.base.Store.stats`): documented here
once, implemented by each backend as a small object handed the backend's connection.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any


class MonitorContract(ABC):
    """Monitoring queries (``sc monitor``), each starting from an indexed filter."""

    # -- monitoring queries (sccli.monitor) -------------------------------------------------
    # Figures for ``sc monitor``, computed inside the database (SQL on SQLite, aggregation
    # pipelines on MongoDB). Each query starts from an indexed filter, so its cost grows with the
    # jobs in its window, not with the whole table. Durations are seconds (completed_at minus
    # started_at); percentiles use the nearest rank (the value at rank ceil(p*n) of n sorted).
    @abstractmethod
    def job_status_type_counts(self) -> list[dict[str, Any]]:
        """Every job counted by ``status`` and ``job_type``: ``[{status, job_type, count}]``
        (an index-only scan of ``(status, job_type)``)."""

    @abstractmethod
    def activity_counts(self, since: datetime) -> dict[str, int]:
        """Jobs whose ``updated_at >= since``, counted by status."""

    @abstractmethod
    def finished_job_stats(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Per job type, over jobs whose ``completed_at`` is in ``[since, until)``:
        ``{job_type, count, completed, failed, cancelled, retries, timeouts, avg_duration,
        min_duration, max_duration, p50_duration, p95_duration}``, ordered by job_type.

        ``retries`` sums ``max(attempts - 1, 0)``; ``timeouts`` counts ``errors`` entries of kind
        ``timeout``; durations (None when none) cover completed jobs with a ``started_at``."""

    @abstractmethod
    def finished_job_daily(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Per UTC day of ``completed_at`` in ``[since, until)``: ``{day: "YYYY-MM-DD",
        completed, failed, cancelled}``, oldest day first (days without jobs left out)."""

    @abstractmethod
    def failed_jobs_since(self, since: datetime, limit: int = 1000) -> list[dict[str, Any]]:
        """Failed jobs with ``completed_at >= since``, newest first, each the job document plus
        ``retry_available`` (attempts < max_attempts) and ``dataset`` ``{name, user, status,
        sensor}`` (None when the dataset is missing), joined in the database."""

    @abstractmethod
    def failure_groups(self, since: datetime) -> list[dict[str, Any]]:
        """Failed jobs with ``completed_at >= since`` grouped by job type and exact error text:
        ``{job_type, error, count, first_seen, last_seen, retry_available (how many),
        job_ids}``."""

    @abstractmethod
    def stale_running_jobs(self, now: datetime, cutoff: datetime) -> list[dict[str, Any]]:
        """Running jobs that look abandoned, each the job document plus ``stale_reason``:

        ``service_dead`` when its worker document is missing, ``stopped`` or has
        ``heartbeat_at < cutoff``; else ``job_silent`` when the job's ``heartbeat_at`` is
        missing or ``< cutoff``; else ``over_timeout`` when ``started_at + timeout_minutes``
        is before ``now``. Oldest heartbeat first."""

    @abstractmethod
    def pending_backlog(self, now: datetime) -> list[dict[str, Any]]:
        """Per job type, pending jobs: ``{job_type, pending, ready (run_after <= now),
        oldest_created_at}``."""

    @abstractmethod
    def finished_job_ids(self, status: str, before: datetime, limit: int) -> list[str]:
        """Ids of up to ``limit`` jobs in ``status`` with ``completed_at < before``, oldest first
        (the cleanup's batches)."""
