"""Which job a claim may take: the pauses, the fleet-wide gate of capped or rate-limited types
(:mod:`sccli.gate`) and the fair share between users (:mod:`sccli.fairness`), all decided from
one ``queue_controls`` snapshot per claim.

:class:`~sccli.queue.JobQueue` holds a :class:`ClaimPolicy` and hands it, for each claim, the
claim's write (:class:`~sccli.claiming.ClaimWrite`: the next ready job of some types, with a given lease token,
time and filter). The policy decides the types, the tokens and the filters and calls the write;
it never calls back into the queue, so the imports go one way: queue → claim policy → gate,
fair share, pauses → controls → store.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sccli.claiming import ClaimWrite
from sccli.fairness import claim_fair
from sccli.gate import claim_gated, gated_limits
from sccli.pause import paused_in, unpaused
from sccli.store.base import Store


class ClaimPolicy:
    """The queue's claim rules over one store, and its ``queue_controls`` snapshot."""

    def __init__(self, store: Store) -> None:
        self.store = store
        #: How long claims in a row may reuse the snapshot read by the first (seconds; 0: read it
        #: for every claim). A service sets its poll interval: read once per poll, not per claim.
        self.ttl = 0.0
        self._read: tuple[float, list[dict[str, Any]]] | None = None

    def snapshot(self) -> list[dict[str, Any]]:
        """The ``queue_controls`` documents (pauses, limits, the fair share) this claim decides by:
        read again when older than :attr:`ttl` or after a claim that found nothing."""
        now = time.monotonic()
        if self._read is None or now - self._read[0] >= self.ttl:
            self._read = (now, self.store.list_controls())
        return self._read[1]

    def last_snapshot(self) -> list[dict[str, Any]]:
        """The snapshot the last claim decided by, without a read (a read when there is none)."""
        return self._read[1] if self._read is not None else self.snapshot()

    def claim(self, types: Sequence[str], write: ClaimWrite, worker: str) -> dict[str, Any] | None:
        """Claim the next job of ``types`` for ``worker`` by ``write``: paused types left alone,
        capped or rate-limited ones through their gate, users served fairly; the job, or None."""
        job = self._claim(types, write, worker)
        if job is None:  # the next claim (the next poll or wake-up) reads the controls again
            self._read = None
        return job

    def _claim(self, types: Sequence[str], write: ClaimWrite, worker: str) -> dict[str, Any] | None:
        controls = self.snapshot()
        paused = paused_in(controls)
        ready = unpaused(types, paused) if paused else list(types)
        if not ready:
            return None

        def fair(some: Sequence[str], lease_token: str | None = None, now: datetime | None = None) -> Any:
            return claim_fair(self.store, controls, write, some, lease_token=lease_token, now=now)

        limits = gated_limits(controls, ready)
        if limits:
            return claim_gated(self.store, fair, worker, ready, limits)
        return fair(ready)
