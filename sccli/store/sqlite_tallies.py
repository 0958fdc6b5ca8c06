"""SQLite side of the day tallies (:class:`~sccli.store.contract_tallies.TallyContract`).

``store.tallies`` of :class:`~sccli.store.sqlite.SqliteStore`: rows of finished jobs read from the
covering index ``ix_jobs_type_finished``, one row per UTC day in ``job_tallies``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sccli import figures as fig
from sccli.clock import from_epoch, to_epoch
from sccli.domain import JobStatus
from sccli.store import codec
from sccli.store.contract_tallies import TallyContract
from sccli.store.sqlite_stats import TIMED_OUT, _lit

_DURATION = (
    f"CASE WHEN status = {_lit(JobStatus.COMPLETED)} AND started_at IS NOT NULL THEN completed_at - started_at END"
)


class SqliteTallies(TallyContract):
    """Day tallies on SQLite, handed the store's read/write helpers, table names, the stats part's
    window of job types and the store's clock."""

    def __init__(
        self,
        read: Callable[..., list[sqlite3.Row]],
        write: Callable[[], AbstractContextManager[sqlite3.Connection]],
        names: dict[str, str],
        window: Callable[[datetime, datetime], tuple[str, list[Any]]],
        now: Callable[[], datetime],
    ) -> None:
        self._read = read
        self._write = write
        self.names = names
        self._window = window
        self.now = now

    def finished_figures(self, since: datetime, until: datetime) -> dict[int, fig.Figures]:
        marks, params = self._window(since, until)
        if not marks:
            return {}
        jobs = self.names["jobs"]
        # One range per job type over the covering index ix_jobs_type_finished: no table row read.
        rows = f"""SELECT CAST(completed_at / {fig.DAY_SECONDS} AS INTEGER) AS day, job_type, status, attempts,
                   {_DURATION} AS d
                   FROM {jobs} WHERE job_type IN ({marks}) AND completed_at >= ? AND completed_at < ?"""
        days: dict[int, fig.Figures] = {}
        groups = (
            "SELECT day, job_type, status, COUNT(*), SUM(MAX(attempts - 1, 0)), COUNT(d), SUM(d), MIN(d), MAX(d) FROM "
            f"({rows}) GROUP BY day, job_type, status"
        )
        for day, job_type, status, n, retries, dur_n, dur_sum, dur_min, dur_max in self._read(groups, params):
            f = days.setdefault(int(day), {}).setdefault(job_type, fig.empty())
            fig.add_group(f, status, int(n), int(retries or 0), int(dur_n), float(dur_sum or 0.0), dur_min, dur_max)
        bucket = (
            f"CASE WHEN d <= 0 THEN '{fig.ZERO_BUCKET}' "
            f"ELSE CAST(CAST(floor(ln(d) / {fig.LOG_BASE!r}) AS INTEGER) AS TEXT) END"
        )
        hist = (
            f"SELECT day, job_type, {bucket} AS b, COUNT(*) FROM ({rows}) WHERE d IS NOT NULL GROUP BY day, job_type, b"
        )
        for day, job_type, key, n in self._read(hist, params):
            days[int(day)][job_type]["hist"][key] = int(n)
        timeouts = f"""SELECT CAST(completed_at / {fig.DAY_SECONDS} AS INTEGER) AS day, job_type,
                       SUM((SELECT COUNT(*) FROM json_each(doc, '$.errors')
                            WHERE json_extract(value, '$.kind') = 'timeout'))
                       FROM {jobs} WHERE completed_at >= ? AND completed_at < ? AND {TIMED_OUT}
                       GROUP BY day, job_type"""
        for day, job_type, n in self._read(timeouts, (to_epoch(since), to_epoch(until))):
            if n:
                days.setdefault(int(day), {}).setdefault(job_type, fig.empty())["timeouts"] += int(n)
        return days

    def first_completed_at(self) -> datetime | None:
        return from_epoch(self._read(f"SELECT MIN(completed_at) FROM {self.names['jobs']}")[0][0])

    def open_status_type_counts(self, ended: Sequence[str]) -> list[dict[str, Any]]:
        # INDEXED BY: the (status, job_type) index would serve the GROUP BY but read every
        # finished row to test completed_at (15 s at 1M jobs); (status, completed_at) reads none.
        jobs = self.names["jobs"]
        open_ = [s.value for s in JobStatus if s.value not in ended]
        sql = f"""SELECT status, job_type, COUNT(*) FROM {jobs} WHERE status IN ({",".join("?" * len(open_))})
                  GROUP BY status, job_type
                  UNION ALL
                  SELECT status, job_type, COUNT(*) FROM {jobs} INDEXED BY ix_{jobs}_status_completed
                  WHERE status IN ({",".join("?" * len(ended))}) AND completed_at IS NULL
                  GROUP BY status, job_type"""
        return [{"status": s, "job_type": t, "count": int(n)} for s, t, n in self._read(sql, [*open_, *ended])]

    def tally_days(self, days: Sequence[int], hist: bool = True) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        for chunk in _chunks(list(days), 500):
            sql = (
                f"SELECT day, version, hold_until, counts, {'hist' if hist else 'NULL'} FROM {self.names['tallies']} "
                f"WHERE day IN ({','.join('?' * len(chunk))})"
            )
            for day, version, hold, counts, hists in self._read(sql, chunk):
                out[int(day)] = {"version": int(version), "hold_until": hold, "figures": _figures(counts, hists)}
        return out

    def save_tally_day(self, day: int, version: int, figures: dict[str, Any]) -> bool:
        counts = {t: {k: v for k, v in f.items() if k != "hist"} for t, f in figures.items()}
        hists = {t: f.get("hist") or {} for t, f in figures.items()}
        table = self.names["tallies"]
        with self._write() as conn:
            row = conn.execute(f"SELECT version, hold_until FROM {table} WHERE day = ?", (day,)).fetchone()
            current, hold = (0, None) if row is None else (int(row[0]), row[1])
            if current != version or (hold is not None and hold > to_epoch(self.now())):
                return False
            conn.execute(
                f"INSERT INTO {table} (day, version, counts, hist) VALUES (?, ?, ?, ?) ON CONFLICT(day) DO UPDATE SET "
                "counts = excluded.counts, hist = excluded.hist",
                (day, version, codec.dumps(counts), codec.dumps(hists)),
            )
        return True

    def bump_tally_days(self, days: Sequence[int], hold_until: float | None = None) -> None:
        if not days:
            return
        sql = f"""INSERT INTO {self.names["tallies"]} (day, version, hold_until) VALUES (?, 1, ?)
                  ON CONFLICT(day) DO UPDATE SET version = version + 1, hold_until = excluded.hold_until,
                  counts = NULL, hist = NULL"""
        with self._write() as conn:
            conn.executemany(sql, [(int(d), hold_until) for d in days])


def _figures(counts: str | None, hists: str | None) -> dict[str, Any] | None:
    if counts is None:
        return None
    figures: dict[str, Any] = codec.loads(counts)
    by_type = codec.loads(hists) if hists else {}
    for job_type, one in figures.items():
        one["hist"] = by_type.get(job_type, {})
    return figures


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
