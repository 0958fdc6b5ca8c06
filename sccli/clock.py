"""UTC time helpers shared by every layer (all stored times are UTC)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import overload


def utcnow() -> datetime:
    """The current time, timezone-aware UTC, truncated to milliseconds (Mongo's precision)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=(now.microsecond // 1000) * 1000)


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
@overload
def as_utc(value: datetime | None) -> datetime | None: ...


def as_utc(value: datetime | None) -> datetime | None:
    """Make a datetime timezone-aware UTC (naive values are taken as UTC, as pymongo returns them)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@overload
def to_epoch(value: datetime) -> float: ...
@overload
def to_epoch(value: None) -> None: ...
@overload
def to_epoch(value: datetime | None) -> float | None: ...


def to_epoch(value: datetime | None) -> float | None:
    """Seconds since the epoch (None stays None)."""
    return None if value is None else as_utc(value).timestamp()


@overload
def from_epoch(value: float) -> datetime: ...
@overload
def from_epoch(value: None) -> None: ...
@overload
def from_epoch(value: float | None) -> datetime | None: ...


def from_epoch(value: float | None) -> datetime | None:
    """A UTC datetime from seconds since the epoch (None stays None)."""
    return None if value is None else datetime.fromtimestamp(value, UTC)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with a Z suffix, or None."""
    if value is None:
        return None
    return as_utc(value).isoformat().replace("+00:00", "Z")


class OffsetClock:
    """This host's clock corrected by its offset to a clock every host shares (the store's), measured
    again by :meth:`measure` every ``refresh_seconds``; to the millisecond, as :func:`utcnow`."""

    def __init__(self, refresh_seconds: float) -> None:
        self.refresh_seconds = refresh_seconds
        self.offset = timedelta(0)
        self._checked = -refresh_seconds

    def now(self) -> datetime:
        """The corrected time (UTC)."""
        if time.monotonic() - self._checked >= self.refresh_seconds:
            self._checked = time.monotonic()
            self.offset = self.measure()
        now = utcnow() + self.offset
        return now.replace(microsecond=(now.microsecond // 1000) * 1000)

    def measure(self) -> timedelta:
        """The shared clock minus this host's; the last offset when it cannot be measured."""
        return self.offset
