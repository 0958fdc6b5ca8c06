"""Figures of finished jobs over any window at a cost that does not grow with the table.

A window is cut into UTC days. A day that ended over an hour ago (*settled*) is read from its
stored figures (:mod:`sccli.figures`, one document per day in ``job_tallies``), which are
computed from that day's jobs the first time they are needed (by a read, at most
:data:`STORE_DAYS_PER_READ` of them; else by the service's tally duty, :func:`prebuild`); the
rest of the window (today, the window's partial first day) is folded from its rows, read from an
index. So a 30-day report reads about 30 small documents and a day or two of rows, whatever the
table holds.

Kept true by invalidation, never by guessing: any write that changes a settled day (a retry of
an old job takes it out of its day, the cleanup deletes old jobs) bumps that day's version in the
same write — in the transition's transaction on SQLite, through the transition's outbox on
MongoDB (:func:`sccli.followups.tally_item`) — and figures are stored only if the version they were computed
at is still current (compare-and-set). The cleanup holds the days it deletes from while it runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sccli import figures as fig
from sccli.clock import from_epoch, to_epoch
from sccli.store.base import Store

#: How long the cleanup holds the days it deletes from (a crashed cleanup's hold runs out).
HOLD_SECONDS = 600.0
#: A read computes and stores at most this many settled days that have no figures yet; past
#: that (a bulk load, an upgrade: every day missing until the service's tally duty has built
#: them) it answers without storing: the missing days folded from their rows in one range per
#: stretch, or the status counts by one indexed count of every job. So the first read after a
#: bulk load costs one pass over an index, not a computed and stored document per day (12.6 s at 1M jobs).
STORE_DAYS_PER_READ = 2


# -- the cleanup's holds (transitions invalidate through sccli.followups.tally_item) ---------
def hold(store: Store, until: datetime) -> list[int]:
    """Hold the settled days before ``until`` (the cleanup's deletes); returns them for :func:`release`."""
    first = store.tallies.first_completed_at()
    if first is None:
        return []
    now = to_epoch(store.now())
    days = [d for d in range(fig.day_of(to_epoch(first)), fig.day_of(to_epoch(until)) + 1) if fig.settled(d, now)]
    store.tallies.bump_tally_days(days, hold_until=now + HOLD_SECONDS)
    return days


def release(store: Store, days: Sequence[int]) -> None:
    """Invalidate and release the days :func:`hold` held."""
    store.tallies.bump_tally_days(days, hold_until=None)


# -- the read side --------------------------------------------------------------------------
def plan(since: float, until: float, now: float) -> tuple[list[int], list[tuple[float, float]]]:
    """The settled whole days inside ``[since, until)`` and the ranges left to read as rows."""
    whole: list[int] = []
    ranges: list[tuple[float, float]] = []
    start = since
    for day in range(fig.day_of(since), fig.day_of(until) + 1):
        lo, hi = day * fig.DAY_SECONDS, (day + 1) * fig.DAY_SECONDS
        if lo >= since and hi <= until and fig.settled(day, now):
            if start < lo:
                ranges.append((start, lo))
            whole.append(day)
            start = hi
    if start < until:
        ranges.append((start, until))
    return whole, ranges


class Untallied(Exception):
    """More settled days of a window have no stored figures than a read computes (see ``fold_missing``)."""


def window_figures(
    store: Store, since: datetime, until: datetime, *,
    hist: bool = True, stored: bool = True, fold_missing: bool = True,
) -> dict[int, fig.Figures]:
    """Figures per day of the jobs with ``completed_at`` in ``[since, until)`` (``stored=False``:
    every day folded from its rows, the recount the stored figures must equal; ``fold_missing=False``:
    :class:`Untallied` instead of folding more than ``STORE_DAYS_PER_READ`` missing days)."""
    s, u, now = to_epoch(since), to_epoch(until), to_epoch(store.now())
    if u <= s:
        return {}
    whole, ranges = plan(s, u, now if stored else float("-inf"))
    out = _stored_days(store, whole, now, hist, fold_missing) if whole else {}
    for lo, hi in ranges:
        for day, figures in _fold_range(store, lo, hi).items():
            fig.merge(out.setdefault(day, {}), figures, hist=hist)
    return out


def _fold_range(store: Store, lo: float, hi: float) -> dict[int, fig.Figures]:
    return store.tallies.finished_figures(from_epoch(lo), from_epoch(hi))


def _stored_days(
    store: Store, days: list[int], now: float, hist: bool, fold_missing: bool = True,
) -> dict[int, fig.Figures]:
    docs = store.tallies.tally_days(days, hist=hist)
    out: dict[int, fig.Figures] = {}
    missing = {day for day in days if (docs.get(day) or {}).get("figures") is None}
    if len(missing) > STORE_DAYS_PER_READ and not fold_missing:
        raise Untallied(f"{len(missing)} settled days have no stored figures")
    for day in days:
        if day not in missing:
            out[day] = docs[day]["figures"]
        elif len(missing) <= STORE_DAYS_PER_READ:
            figures = _compute_day(store, day, now)
            out[day] = figures if hist else fig.strip_hist(figures)
    if len(missing) > STORE_DAYS_PER_READ:  # folded, not stored: the tally duty stores them
        for lo, hi in _stretches(missing):
            for day, figures in _fold_range(store, lo * fig.DAY_SECONDS, hi * fig.DAY_SECONDS).items():
                fig.merge(out.setdefault(day, {}), figures, hist=hist)
        for day in missing:
            out.setdefault(day, {})
    return out


def _stretches(days: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted day numbers as ``[first, last + 1)`` runs of consecutive days."""
    runs: list[tuple[int, int]] = []
    for day in sorted(days):
        if runs and runs[-1][1] == day:
            runs[-1] = (runs[-1][0], day + 1)
        else:
            runs.append((day, day + 1))
    return runs


def untallied_days(store: Store, since: datetime, until: datetime) -> int:
    """How many settled days of ``[since, until)`` have no stored figures (the read would fold them)."""
    s, u, now = to_epoch(since), to_epoch(until), to_epoch(store.now())
    whole, _ = plan(s, u, now)
    if not whole:
        return 0
    docs = store.tallies.tally_days(whole, hist=False)
    return sum(1 for day in whole if (docs.get(day) or {}).get("figures") is None)


def _compute_day(store: Store, day: int, now: float) -> fig.Figures:
    """Fold one settled day and store it unless a write changed or holds it meanwhile: the
    version is read before the rows (one transaction on SQLite), stored by compare-and-set."""
    lo = day * fig.DAY_SECONDS
    with store.atomic():
        doc = store.tallies.tally_days([day], hist=False).get(day)
        version = doc["version"] if doc else 0
        figures = _fold_range(store, lo, lo + fig.DAY_SECONDS).get(day, {})
        held = bool(doc and doc.get("hold_until") is not None and doc["hold_until"] > now)
        if not held:
            store.tallies.save_tally_day(day, version, figures)
    return figures


def prebuild(store: Store, budget_seconds: float, clock: Any = None) -> tuple[int, int]:
    """Store the figures of settled days that have none yet, newest first, until ``budget_seconds``
    have passed: (days built, days still missing). Run in the background (the service's tally duty)
    so the first report after a bulk load or an upgrade reads stored days instead of folding them."""
    import time

    clock = clock or time.monotonic
    first = store.tallies.first_completed_at()
    if first is None:
        return 0, 0
    now = to_epoch(store.now())
    days = [d for d in range(fig.day_of(to_epoch(first)), fig.day_of(now) + 1) if fig.settled(d, now)]
    docs = store.tallies.tally_days(days, hist=False)
    missing = [d for d in reversed(days) if (docs.get(d) or {}).get("figures") is None]  # recent days are read most
    deadline, built = clock() + budget_seconds, 0
    for day in missing:
        if clock() >= deadline:
            break
        _compute_day(store, day, now)
        built += 1
    return built, len(missing) - built


def total(days: Iterable[fig.Figures], *, hist: bool = True) -> fig.Figures:
    """All days' figures added up per job type."""
    out: fig.Figures = {}
    for figures in days:
        fig.merge(out, figures, hist=hist)
    return out


def finished_stats(store: Store, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Per job type over ``[since, until)``, in the shape of the store's ``finished_job_stats``."""
    return stats_rows(window_figures(store, since, until))


def stats_rows(days: dict[int, fig.Figures]) -> list[dict[str, Any]]:
    """Per job type over the given days' figures (see :func:`finished_stats`)."""
    summed = total(days.values())
    return [fig.stats_row(job_type, summed[job_type]) for job_type in sorted(summed)]


def finished_daily(store: Store, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Per UTC day over ``[since, until)``: ``{day, completed, failed, cancelled}``, days with jobs."""
    return daily_rows(window_figures(store, since, until, hist=False))


def daily_rows(days: dict[int, fig.Figures], first_day: int | None = None) -> list[dict[str, Any]]:
    """The days' counts (from ``first_day`` on), see :func:`finished_daily`."""
    out = []
    for day, figures in sorted(days.items()):
        if first_day is not None and day < first_day:
            continue
        summed = total([figures], hist=False)
        counts = [sum(f["by_status"].get(s, 0) for f in summed.values()) for s in fig.ENDED]
        if any(f["count"] for f in summed.values()):
            out.append(
                {
                    "day": from_epoch(day * fig.DAY_SECONDS).date().isoformat(),
                    **dict(zip(fig.ENDED, counts, strict=True)),
                }
            )
    return out


def _first_day(store: Store) -> datetime | None:
    """Midnight of the oldest ``completed_at``'s day (windows from there hold whole days)."""
    first = store.tallies.first_completed_at()
    return None if first is None else from_epoch(fig.day_of(to_epoch(first)) * fig.DAY_SECONDS)


def status_type_counts(store: Store) -> list[dict[str, Any]]:
    """Every job counted by status and type (the store's ``job_status_type_counts``): finished
    jobs from the day figures, the rest (pending, running, no ``completed_at``) counted live."""
    first = _first_day(store)
    try:
        until = store.now() + timedelta(days=2)
        ended = window_figures(store, first, until, hist=False, fold_missing=False) if first else {}
    except Untallied:  # a bulk load, an upgrade: every job counted at once on the (status, job_type) index
        return store.stats.job_status_type_counts()
    rows = store.tallies.open_status_type_counts(fig.ENDED)
    if first is not None:  # a completed_at a little ahead (another host's clock) still counts: + 2 days
        for job_type, f in sorted(total(ended.values(), hist=False).items()):
            rows += [
                {"status": s, "job_type": job_type, "count": int(n)}
                for s, n in sorted(f["by_status"].items())
                if s in fig.ENDED and n
            ]
    return rows


def ended_before(store: Store, cutoffs: dict[str, datetime]) -> dict[str, int]:
    """Per finished status, how many jobs have ``completed_at`` before its cutoff (the cleanup's counts)."""
    first = _first_day(store)
    counted: dict[datetime, fig.Figures] = {}
    out = {}
    for status, cutoff in cutoffs.items():
        if first is None or first >= cutoff:
            out[status] = 0
            continue
        if cutoff not in counted:
            counted[cutoff] = total(window_figures(store, first, cutoff, hist=False).values(), hist=False)
        out[status] = sum(int(f["by_status"].get(status, 0)) for f in counted[cutoff].values())
    return out
