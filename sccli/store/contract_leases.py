"""The leases' part of the store contract: ``store.leases`` (collection ``job_leases``).

A lease is one document per name (``name``, ``holder``, ``expires_at``, and what its holder keeps
there, e.g. the retention's ``done_period``): the fleet's way to let exactly one service do a duty
at a time. Taking a lease is one conditional write, so two services never both hold it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any


class LeaseContract(ABC):
    """Named, expiring, exclusive leases."""

    @abstractmethod
    def acquire(
        self, name: str, holder: str, now: datetime, until: datetime, fields: dict[str, Any] | None = None
    ) -> bool:
        """Hold ``name`` until ``until`` if nobody else holds it now (missing, expired at ``now``,
        or already ``holder``'s), storing ``fields`` on it; True when ``holder`` holds it after the call."""

    @abstractmethod
    def release(self, name: str, holder: str, now: datetime, fields: dict[str, Any] | None = None) -> bool:
        """Give ``name`` up (it expires at ``now``) and store ``fields`` on it, only if ``holder``
        holds it; True when written."""

    @abstractmethod
    def get(self, name: str) -> dict[str, Any] | None:
        """The lease document (None when never taken)."""
