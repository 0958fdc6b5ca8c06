"""Which idle service a change-stream event wakes: one, not every service that follows the stream.

Every service sees the same change events; each ranks the fleet for the changed job by the same
rendezvous hash :mod:`sccli.wakeup` uses on one host (:func:`sccli.wakeup.chosen`: a free slot
first, then the hash of the job's ``_id`` and the worker id), over the ``workers`` documents it
read at most every ``refresh_seconds`` (one read per service per period, not per job). Only
running services with a fresh heartbeat that serve the job's type (when the event names it) are
ranked; a service always counts itself. The first-ranked one is woken at once; the second, as a
backup for a first that died or filled up since its last heartbeat, only after
:data:`BACKUP_SECONDS` and only if the job is still pending (one read by ``_id``, no claim).
Everyone else finds the job at its next poll, which stays the safety net: views of the fleet
that differ for a moment can cost a job a poll interval, never the job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sccli.clock import as_utc
from sccli.domain import ServiceState
from sccli.wakeup import chosen

#: How many services one change event may wake: the first at once, the rest as backups.
STREAM_FANOUT = 2
#: How long a backup waits before it looks whether the first-ranked service took the job.
BACKUP_SECONDS = 0.5


def stream_rank(workers: list[dict[str, Any]], me: str, key: str, job_type: str | None, now: datetime,
                stale_seconds: float) -> int:
    """This service's (``me``) place among the services that may claim the job ``key`` (0: first;
    ``len(workers)`` or more: it does not serve ``job_type``)."""
    def serves(worker: dict[str, Any]) -> bool:
        types = worker.get("types") or []
        return job_type is None or not types or job_type in types

    def candidate(worker: dict[str, Any]) -> bool:
        if worker.get("worker_id") == me:
            return True  # itself: whatever its last heartbeat said, it is alive
        beat = worker.get("heartbeat_at")
        fresh = isinstance(beat, datetime) and (now - as_utc(beat)).total_seconds() <= stale_seconds
        return fresh and worker.get("status") == ServiceState.RUNNING and serves(worker)

    fleet = [w for w in workers if candidate(w)]
    mine = next((w for w in fleet if w.get("worker_id") == me), None)
    if mine is None:
        fleet.append({"worker_id": me, "slots": 1, "running_jobs": []})  # not written yet: count it as idle
    elif not serves(mine):
        return len(fleet)  # not its type: never woken for it
    order = chosen(fleet, key, len(fleet))
    return next(i for i, w in enumerate(order) if w.get("worker_id") == me)


class WakeRanks:
    """A service's view of the fleet for :func:`stream_rank`, re-read at most every ``refresh_seconds``."""

    def __init__(self, read_workers: Callable[[], list[dict[str, Any]]], now: Callable[[], datetime], me: str,
                 refresh_seconds: float, stale_seconds: float) -> None:
        self.read_workers, self.now, self.me = read_workers, now, me
        self.refresh_seconds, self.stale_seconds = refresh_seconds, stale_seconds
        self._workers: list[dict[str, Any]] | None = None
        self._read_at = 0.0

    def rank(self, key: str, job_type: str | None) -> int:
        """This service's rank for the job ``key``; 0 when the fleet cannot be read (wake, as before)."""
        if self._workers is None or time.monotonic() - self._read_at >= self.refresh_seconds:
            try:
                self._workers = self.read_workers()
            except Exception:  # noqa: BLE001 - a store error costs the selection, not the wake-up
                self._workers = None
                return 0
            self._read_at = time.monotonic()
        return stream_rank(self._workers, self.me, key, job_type, self.now(), self.stale_seconds)
