"""The per-day tallies' part of the store contract: raw rows of finished jobs and the stored
figures of settled days (see :mod:`sccli.monitor.tally` for how they are kept true).

A part the store owns, ``store.tallies`` (:attr:`sccli.store.base.Store.tallies`), implemented by
each backend as a small object handed the backend's connection.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any


class TallyContract(ABC):
    """Rows of finished jobs in a window, and one stored figures document per UTC day."""

    @abstractmethod
    def finished_figures(self, since: datetime, until: datetime) -> dict[int, dict[str, dict[str, Any]]]:
        """The figures (:mod:`sccli.figures`) of the jobs with ``completed_at`` in ``[since,
        until)``, per UTC day number and job type, computed from an index: jobs by status,
        retries (Σ max(attempts − 1, 0)), timeouts (``errors`` entries of kind ``timeout``),
        and completed durations (count, sum, min, max, 1 % histogram)."""

    @abstractmethod
    def first_completed_at(self) -> datetime | None:
        """The oldest ``completed_at`` of any job (None without one)."""

    @abstractmethod
    def open_status_type_counts(self, ended: Sequence[str]) -> list[dict[str, Any]]:
        """``[{status, job_type, count}]`` of the jobs the day tallies do not hold: status not
        in ``ended``, or in ``ended`` without a ``completed_at``."""

    @abstractmethod
    def tally_days(self, days: Sequence[int], hist: bool = True) -> dict[int, dict[str, Any]]:
        """The stored documents of these day numbers: ``{day: {version, hold_until (epoch
        seconds or None), figures (None until stored)}}``; histograms left out unless ``hist``."""

    @abstractmethod
    def save_tally_day(self, day: int, version: int, figures: dict[str, Any]) -> bool:
        """Store a day's figures if its version is still ``version`` (0: no document yet) and it
        is not held; False when a write changed the day meanwhile."""

    @abstractmethod
    def bump_tally_days(self, days: Sequence[int], hold_until: float | None = None) -> None:
        """Invalidate these days' stored figures (version + 1, figures dropped) and set their
        ``hold_until`` (None releases): a held day is not stored again before that time."""
