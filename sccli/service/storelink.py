"""Every store call of the service runs here, on one thread, in order.

The supervisor (main thread) never blocks on the database: it submits operations and gets
their results back through :meth:`StoreLink.results`. Two kinds of operations:

- **durable** writes (a job's outcome: complete, fail, cancelled, released; the final worker
  document) are kept in memory and retried with backoff, in order, until the store takes them;
- **probes** (claims, heartbeats, cancel polls, sweeps) are dropped while the store is
  unreachable: they are repeated anyway.

On a store with transactions (SQLite), the operations waiting when the thread takes the next
one run together in one transaction (a job's outcome and the claim of the next job, typically):
one commit instead of several. Should one of them fail, the transaction is rolled back and each
runs again on its own, so a batch changes no operation's outcome, only the number of commits.

A change between reachable and unreachable is logged once, not per call; on SQLite the store
is unreachable until an operation really commits again (a full disk lets an empty probe
transaction through).
"""

from __future__ import annotations

import logging
import os
import queue as queues
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sccli.errors import StoreUnavailable

log = logging.getLogger("sccli.service")

#: A durable write that fails for another reason than an outage is tried this often, then dropped.
DURABLE_TRIES = 3
#: At most this many waiting operations share one transaction.
BATCH_MAX = 32


@dataclass
class Op:
    """One store call: ``fn(queue)`` on the store thread, then ``done(result, error)`` on the main thread."""

    name: str
    fn: Callable[[Any], Any]
    durable: bool = False
    done: Callable[[Any, BaseException | None], None] | None = None
    result: Any = None
    error: BaseException | None = None
    tries: int = field(default=0)


class StoreLink:
    """The store thread and the outage state (reachable or not, since when, next retry)."""

    def __init__(self, queue: Any, backoff_base: float, backoff_max: float) -> None:
        self.queue = queue
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._ops: queues.SimpleQueue[Op | None] = queues.SimpleQueue()
        self._results: queues.SimpleQueue[Op] = queues.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pending_durable = 0
        self.lost_durable = 0
        self.down_since: float | None = None
        self.up_since = time.monotonic()
        self.recovered = False
        self._backoff = backoff_base
        self._next_retry = 0.0
        self._thread = threading.Thread(target=self._run, name="sc-store", daemon=True)

    # -- main-thread side -------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def submit(self, op: Op) -> None:
        if op.durable:
            with self._lock:
                self._pending_durable += 1
        self._ops.put(op)

    def fileno(self) -> int:
        """Readable when results are waiting (for the supervisor's wait)."""
        return self._wake_r

    def results(self) -> list[Op]:
        """Finished operations, in order; call their ``done`` on the main thread."""
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        out = []
        while True:
            try:
                out.append(self._results.get_nowait())
            except queues.Empty:
                return out

    @property
    def is_down(self) -> bool:
        return self.down_since is not None

    @property
    def pending_durable(self) -> int:
        with self._lock:
            return self._pending_durable

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def up_for(self) -> float:
        """Seconds the store has been reachable without a break (0 while it is not)."""
        return 0.0 if self.is_down else time.monotonic() - self.up_since

    def stop(self, timeout: float) -> int:
        """Let queued operations finish for up to ``timeout`` seconds, then give up on the rest;
        how many durable writes were not recorded."""
        self._ops.put(None)
        self._thread.join(timeout)
        self._stop.set()
        self._thread.join(1.0)
        return self.lost_durable + self.pending_durable

    # -- store thread -----------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if not batch:
                return
            if len(batch) == 1 or not self._execute_together(batch):
                for op in batch:
                    self._execute_alone(op)
            for op in batch:
                self._finished(op)

    def _next_batch(self) -> list[Op]:
        """The next operation and those already waiting behind it (up to BATCH_MAX); a stop
        request ends the batch (None, last)."""
        op = self._ops.get()
        if op is None:
            return []
        batch: list[Any] = [op]
        while len(batch) < BATCH_MAX:
            try:
                more = self._ops.get_nowait()
            except queues.Empty:
                break
            if more is None:
                self._ops.put(None)  # seen again once this batch is done
                break
            batch.append(more)
        return batch

    def _execute_together(self, batch: list[Op]) -> bool:
        """Run ``batch`` in one transaction; False (everything rolled back) when any failed."""
        store = self.queue.store
        if not getattr(store, "atomic_followups", False) or self.is_down or self._stop.is_set():
            return False
        try:
            with store.atomic():
                results = [op.fn(self.queue) for op in batch]
        except StoreUnavailable as exc:  # the store, not an operation: each waits or drops as alone
            self._mark_down(exc)
            return False
        except BaseException:  # noqa: BLE001 - each runs again on its own and reports its own error
            return False
        for op, result in zip(batch, results, strict=True):
            op.tries, op.result, op.error = op.tries + 1, result, None
        return True

    def _execute_alone(self, op: Op) -> None:
        try:
            self._execute(op)
        except BaseException as exc:  # noqa: BLE001 - this thread must outlive any single operation
            op.error = exc
            log.critical("store operation %s crashed: %s", op.name, exc, exc_info=exc)

    def _finished(self, op: Op) -> None:
        if op.durable:
            with self._lock:
                self._pending_durable -= 1
                self.lost_durable += op.error is not None
        self._results.put(op)
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass

    def _execute(self, op: Op) -> None:
        while not self._stop.is_set():
            if self.is_down:
                wait = self._next_retry - time.monotonic()
                if wait > 0 and not op.durable:
                    op.error = StoreUnavailable("store unreachable")
                    return
                if wait > 0 and self._stop.wait(wait):
                    break
                if not self._probe(op):
                    if not op.durable:
                        return
                    continue
            op.tries += 1
            commits = self.queue.store.commit_count()
            try:
                op.result = op.fn(self.queue)
                op.error = None
                if self.is_down and commits is not None and self.queue.store.commit_count() != commits:
                    self._mark_up()  # a real commit: the store is back
                return
            except StoreUnavailable as exc:
                op.error = exc
                self._mark_down(exc)
                if not op.durable:
                    return
            except Exception as exc:  # a bug or a refused write: logged with its traceback, never fatal
                op.error = exc
                log.error("store operation %s failed: %s: %s", op.name, type(exc).__name__, exc, exc_info=exc)
                if not op.durable or op.tries >= DURABLE_TRIES:
                    return
                time.sleep(self.backoff_base)
        op.error = op.error or StoreUnavailable("service stopped before the store came back")

    def _probe(self, op: Op) -> bool:
        """A real round trip before the store is called reachable again (an operation may
        succeed without touching the store: a sweep skipped right after an outage). Where the
        store counts its commits (SQLite), the probe only lets the operation try: an empty
        transaction commits on a full disk while real ones fail, so only a real commit of an
        operation ends the outage (one line down, one line up)."""
        try:
            self.queue.store.ping(write=True)
        except StoreUnavailable as exc:
            op.error = exc
            self._mark_down(exc)
            return False
        if self.queue.store.commit_count() is None:
            self._mark_up()
        return True

    def _mark_down(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self.down_since is None:
            self.down_since = now
            self._backoff = self.backoff_base
            log.warning("store unreachable: %s; retrying with backoff, running jobs continue", exc)
        else:
            self._backoff = min(self.backoff_max, self._backoff * 2)
        self._next_retry = now + self._backoff

    def _mark_up(self) -> None:
        if self.down_since is None:
            return
        now = time.monotonic()
        log.warning(
            "store reachable again after %.1fs; %d pending write(s) to record", now - self.down_since,
            self.pending_durable,
        )
        self.down_since = None
        self.up_since = now
        self.recovered = True
