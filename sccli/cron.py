"""Five-field cron expressions and their fire times in a named timezone (a pure leaf: no sccli imports).

Written here rather than taken from ``croniter``: that package was declared abandoned by its author
in 2025 and its new home had not yet published the zoneinfo DST fixes; the part sccli needs (five
fields, ``@daily``-style macros, next fire time after an instant) is small and tested here.

Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or jan-dec), day of week
(0-7 or sun-sat, 0 and 7 both Sunday); each a ``*``, a value, a range ``a-b``, a step ``*/n``,
``a-b/n`` or ``a/n``, or a comma list of those. As in Vixie cron, when both day fields are
restricted a day matches either of them.

Daylight saving time (documented in docs/schedules.md): each wall-clock time fires once.
A time skipped by the spring-forward jump fires at the same instant one hour later on the wall
clock (02:30 in Europe/Rome on the last Sunday of March fires at 03:30 CEST); a time repeated by
the fall-back jump fires at its first occurrence only.

``@every 2s`` (seconds, minutes or hours) is an interval form for tests, accepted only when the
caller allows it (settings ``schedule_intervals``): fire times are whole multiples of the interval
since the epoch, so every service computes the same ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())}
_DAYS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}
_EVERY = re.compile(r"^@every\s+([1-9][0-9]{0,6})\s*([smh])$")
_UNIT = {"s": 1, "m": 60, "h": 3600}
#: A cron that matches no day within this many years never fires (``0 0 30 2 *``): refused.
_HORIZON_YEARS = 8


class CronError(ValueError):
    """A malformed cron expression or timezone (the message names the part at fault)."""


@dataclass(frozen=True)
class Cron:
    """A parsed expression: the allowed values of each field, or an interval in seconds."""

    text: str
    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    weekdays: frozenset[int] = frozenset()  # 0 = Monday, as date.weekday()
    days_restricted: bool = False
    weekdays_restricted: bool = False
    every_seconds: int = 0

    def day_matches(self, day: date) -> bool:
        """Whether ``day`` is a firing day (month, then the Vixie either-day rule)."""
        if day.month not in self.months:
            return False
        by_dom, by_dow = day.day in self.days, day.weekday() in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return by_dom or by_dow
        return by_dom and by_dow


def parse(text: str, *, allow_every: bool = False) -> Cron:
    """Parse a cron expression; :class:`CronError` with a one-line reason when malformed."""
    raw = " ".join(str(text).split()).lower()
    every = _EVERY.match(raw)
    if every:
        if not allow_every:
            raise CronError(f"cron {text!r}: the @every form is for tests only (settings schedule_intervals)")
        return Cron(text=raw, every_seconds=int(every.group(1)) * _UNIT[every.group(2)])
    fields = _MACROS.get(raw, raw).split(" ")
    if len(fields) != 5:
        raise CronError(
            f"cron {text!r}: expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
        )
    minute, hour, dom, month, dow = fields
    weekdays = frozenset((d - 1) % 7 for d in _field(dow, "day of week", 0, 7, _DAYS))  # cron 0=Sun → weekday 6
    cron = Cron(
        text=raw,
        minutes=_field(minute, "minute", 0, 59),
        hours=_field(hour, "hour", 0, 23),
        days=_field(dom, "day of month", 1, 31),
        months=_field(month, "month", 1, 12, _MONTHS),
        weekdays=weekdays,
        days_restricted=not dom.startswith("*"),
        weekdays_restricted=not dow.startswith("*"),
    )
    if not _fires_within(cron, date(2024, 1, 1), _HORIZON_YEARS):
        raise CronError(f"cron {text!r} never fires (no such day)")
    return cron


def timezone(name: str | None) -> ZoneInfo:
    """The IANA timezone ``name`` (None or empty: UTC); :class:`CronError` when unknown."""
    if not name:
        return ZoneInfo("UTC")
    if not re.fullmatch(r"[A-Za-z0-9_+\-/]{1,64}", name) or ".." in name or name.startswith("/"):
        raise CronError(f"unknown timezone {name[:64]!r} (an IANA name such as Europe/Rome)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CronError(f"unknown timezone {name!r} (an IANA name such as Europe/Rome)") from None


def next_after(cron: Cron, after: datetime, tz: ZoneInfo) -> datetime:
    """The first fire time strictly after ``after`` (aware), as UTC with whole seconds."""
    after = after.astimezone(UTC)
    if cron.every_seconds:
        step = cron.every_seconds
        return datetime.fromtimestamp((int(after.timestamp()) // step + 1) * step, UTC)
    day = after.astimezone(tz).date() - timedelta(days=1)  # the day before: a gap time may map forward
    for _ in range(366 * _HORIZON_YEARS):
        if cron.day_matches(day):
            best = _first_in_day(cron, day, tz, after)
            if best is not None:
                return best
        day += timedelta(days=1)
    raise CronError(f"cron {cron.text!r} has no fire time after {after.isoformat()}")


def latest_due(cron: Cron, first: datetime, now: datetime, tz: ZoneInfo) -> datetime:
    """The last fire time ``<= now``, starting from the due fire time ``first`` (``<= now``)."""
    if cron.every_seconds:
        step = cron.every_seconds
        return max(first, datetime.fromtimestamp(int(now.timestamp()) // step * step, UTC))
    latest = first
    while True:
        following = next_after(cron, latest, tz)
        if following > now:
            return latest
        latest = following


def _first_in_day(cron: Cron, day: date, tz: ZoneInfo, after: datetime) -> datetime | None:
    # Every wall-clock time of the day as an instant (fold=0: a repeated time is its first
    # occurrence, a skipped time is read with the offset before the jump, i.e. an hour later);
    # the smallest instant after ``after`` wins, so two wall times landing on one instant fire once.
    best: datetime | None = None
    for hour in sorted(cron.hours):
        for minute in sorted(cron.minutes):
            moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).astimezone(UTC)
            if moment > after and (best is None or moment < best):
                best = moment
        if best is not None and hour >= best.astimezone(tz).hour + 1:
            break
    return best


def _fires_within(cron: Cron, start: date, years: int) -> bool:
    day = start
    for _ in range(366 * years):
        if cron.day_matches(day):
            return True
        day += timedelta(days=1)
    return False


def _field(text: str, what: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        values |= _part(part, what, low, high, names or {})
    return frozenset(values)


def _part(part: str, what: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    base, _, step_text = part.partition("/")
    step = _number(step_text, what, 1, high - low + 1, {}) if step_text else 1
    if base == "*":
        start, end = low, high
    elif "-" in base:
        a, _, b = base.partition("-")
        start, end = _number(a, what, low, high, names), _number(b, what, low, high, names)
        if start > end:
            raise CronError(f"cron {what}: range {base!r} runs backwards")
    else:
        start = _number(base, what, low, high, names)
        end = high if step_text else start
    return set(range(start, end + 1, step))


def _number(text: str, what: str, low: int, high: int, names: dict[str, int]) -> int:
    if text in names:
        return names[text]
    if not text.isdigit() or len(text) > 4:
        raise CronError(f"cron {what}: {text!r} is not a number or a name")
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"cron {what}: {value} is outside {low}-{high}")
    return value
