"""UTC time helpers shared by every layer (all stored times are UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
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
