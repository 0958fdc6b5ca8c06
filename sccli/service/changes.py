"""Waking an idle service from MongoDB change streams: a job made pending anywhere (another host,
the portal, a retry) is claimed at once instead of at the next poll.

A :class:`ChangeWatcher` thread follows ``jobs.watch()`` for inserts, replacements and updates that
make a job pending, and answers each with a wake-up datagram to the service's own wake port (the
one :mod:`sccli.wakeup` already listens on), so the supervisor's loop needs no new input. It is an
accelerator only: the poll stays on, and the thread never holds the service up or takes it down.

- A server that offers no change streams (a standalone ``mongod``, mongomock, the wire test
  server) refuses the first ``watch()``: one log line, and the service keeps polling.
- A stream lost later (election, network) is one log line too; it is reopened in the background
  with backoff, one line when it is back, and each (re)opening wakes the service once for what
  it may have missed meanwhile.
- Anything unexpected ends the thread with one log line; the poll carries on.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

from sccli.domain import JobStatus
from sccli.wakeup import WAKE

log = logging.getLogger("sccli.service")

#: What wakes a service: a job inserted or replaced as pending, or updated to pending.
PIPELINE: list[dict[str, Any]] = [
    {"$match": {"$or": [
        {"operationType": {"$in": ["insert", "replace"]}, "fullDocument.status": JobStatus.PENDING.value},
        {"operationType": "update", "updateDescription.updatedFields.status": JobStatus.PENDING.value},
    ]}},
    {"$project": {"operationType": 1}},  # the resume token (_id) stays; the document is not needed
]
#: How long one ``getMore`` waits on the server for a change (the stream's only idle cost).
AWAIT_MS = 5000
#: Reopening a lost stream: first after this long, doubling up to BACKOFF_MAX.
BACKOFF_BASE, BACKOFF_MAX = 1.0, 30.0
#: A stream that lived this long resets the backoff (a flapping one does not).
HEALTHY_SECONDS = 60.0
#: Server answers that mean "not now" (no primary, shutting down), not "never": reopen later.
TRANSIENT_CODES = frozenset({6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436})


class ChangeWatcher:
    """A daemon thread turning pending-making changes of ``jobs`` into wake-ups of ``wake_port``."""

    def __init__(self, store: Any, wake_port: int, poll_interval: float) -> None:
        self.store = store
        self.wake_port = wake_port
        self.poll_interval = poll_interval
        self.state = "starting"  # then: open, lost, refused, failed, stopped
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._thread = threading.Thread(target=self._run, name="sc-changes", daemon=True)

    def start(self) -> ChangeWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the thread to end; never waits for a ``getMore`` in flight (the thread is a daemon)."""
        self._stop.set()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- the thread -------------------------------------------------------------------------
    def _run(self) -> None:
        backoff = BACKOFF_BASE
        try:
            while not self._stop.is_set():
                try:
                    lived = self._follow()
                except Exception as exc:  # noqa: BLE001 - classified below; the thread must not die of it
                    if not self._interrupted(exc):
                        return
                    lived = 0.0
                if lived >= HEALTHY_SECONDS:
                    backoff = BACKOFF_BASE
                self._stop.wait(backoff)
                backoff = min(BACKOFF_MAX, backoff * 2)
        except BaseException as exc:  # noqa: BLE001 - a bug here must cost the wake-ups only
            self._set(
                "failed", f"change stream watcher stopped ({_describe(exc)}): polling every {self.poll_interval:g}s",
                logging.ERROR,
            )
        finally:
            self._sock.close()
            if self.state not in ("refused", "failed"):
                self.state = "stopped"

    def _interrupted(self, exc: Exception) -> bool:
        """Log an error of the stream once per change of state; whether to try it again later."""
        if self._stop.is_set():  # the service is stopping (its client may be closing): say nothing
            return False
        if self._refused(exc):
            self._set("refused", f"MongoDB offers no change streams here ({_describe(exc)}): idle services "
                      f"find new jobs by polling every {self.poll_interval:g}s", logging.INFO)
            return False
        if self.state != "lost":
            what = "lost" if self.state == "open" else "not open"
            self._set("lost", f"change stream {what} ({_describe(exc)}): polling every {self.poll_interval:g}s "
                      "meanwhile, reopening it in the background", logging.WARNING)
        return True

    def _follow(self) -> float:
        """Open the stream and wake the service for each change until stopped; seconds it lived."""
        coll = self.store.coll("jobs")
        with coll.watch(PIPELINE, max_await_time_ms=AWAIT_MS) as stream:
            opened = time.monotonic()
            if self.state == "lost":
                self._set("open", "change stream open again: new jobs wake idle services at once", logging.INFO)
            elif self.state != "open":
                self._set("open", "following MongoDB change streams: new jobs wake idle services at once", logging.INFO)
            self._wake()  # whatever became pending before the stream was open
            while not self._stop.is_set() and stream.alive:
                if stream.try_next() is not None:
                    self._wake()
            return time.monotonic() - opened

    def _wake(self) -> None:
        try:
            self._sock.sendto(WAKE, ("127.0.0.1", self.wake_port))
        except OSError:  # the service is stopping: its wake socket is closed
            pass

    def _refused(self, exc: BaseException) -> bool:
        """Whether the server (or the client library) says change streams are not offered at all."""
        if self.state == "open" or self.state == "lost":
            return False  # it worked before: a later error is an interruption
        if isinstance(exc, (TypeError, AttributeError, NotImplementedError)):  # mongomock: no watch()
            return True
        try:
            from pymongo.errors import OperationFailure
        except ImportError:
            return True
        return isinstance(exc, OperationFailure) and exc.code not in TRANSIENT_CODES

    def _set(self, state: str, message: str, level: int) -> None:
        self.state = state
        log.log(level, "%s", message)


def _describe(exc: BaseException) -> str:
    text = str(exc).split("\n")[0].split(", full error:")[0][:160]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def watch_changes(store: Any, wake_port: int, poll_interval: float) -> ChangeWatcher | None:
    """Start a :class:`ChangeWatcher` when ``store`` can stream changes (MongoDB); None otherwise."""
    if not getattr(store, "change_streams", False):
        return None
    try:
        store.client  # noqa: B018 - the lazy client made here, not raced for by two threads (it connects in the background)
    except Exception:  # noqa: BLE001 - the store thread will report an unusable store; no stream then
        return None
    return ChangeWatcher(store, wake_port, poll_interval).start()
