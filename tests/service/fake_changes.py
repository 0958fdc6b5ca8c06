"""FAKE change streams for mongomock, for the tests only: NOT MongoDB's.

mongomock has no ``watch()`` and the wire test server refuses ``$changeStream``, so the service's
change-stream path is tested against this stand-in. It behaves like pymongo's ``ChangeStream`` as
far as :mod:`sccli.service.changes` uses it (``watch(pipeline, max_await_time_ms=...)`` as a context
manager; ``alive``, ``try_next()`` waiting at most ``max_await_time_ms``, ``next()``, ``close()``,
``resume_token``), and makes change events the way a server would describe the writes: each write
call on a watched mongomock collection is diffed (documents before and after), giving ``insert``,
``update`` (``updateDescription.updatedFields`` / ``removedFields``), ``replace``-free ``delete``
events, which pass through the pipeline's ``$match`` (mongomock's own filter) and ``$project``.

What it cannot show (a real replica set must confirm it, docs/mongodb-checklist.md): the server's
event shapes for nested ``$set`` paths, resume after an election, ``getMore`` timing, permissions.
"""

from __future__ import annotations

import itertools
import queue as queues
import threading
from collections.abc import Callable
from typing import Any

import pytest

WRITE_METHODS = ("insert_one", "insert_many", "update_one", "update_many", "find_one_and_update", "replace_one",
                 "find_one_and_replace", "delete_one", "delete_many")


class FakeChangeStream:
    """One open stream: change events of one collection, filtered by the pipeline."""

    def __init__(
        self, hub: FakeChangeStreams, full_name: str, pipeline: list[dict[str, Any]], max_await_time_ms: int | None
    ) -> None:
        self.hub = hub
        self.full_name = full_name
        self.pipeline = pipeline
        self.wait = (max_await_time_ms or 1000) / 1000
        self.events: queues.Queue[dict[str, Any] | BaseException] = queues.Queue()
        self.resume_token: Any = None
        self._closed = False

    @property
    def alive(self) -> bool:
        return not self._closed

    def try_next(self) -> dict[str, Any] | None:
        """The next change, or None after waiting ``max_await_time_ms`` (a getMore that came back empty)."""
        if self._closed:
            return None
        try:
            item = self.events.get(timeout=min(self.wait, 0.2))  # stays responsive in tests
        except queues.Empty:
            return None
        if isinstance(item, BaseException):
            self.close()
            raise item
        self.resume_token = item["_id"]
        return item

    def next(self) -> dict[str, Any]:
        while self.alive:
            change = self.try_next()
            if change is not None:
                return change
        raise StopIteration

    __next__ = next

    def __iter__(self) -> FakeChangeStream:
        return self

    def close(self) -> None:
        self._closed = True
        self.hub.forget(self)

    def __enter__(self) -> FakeChangeStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def offer(self, event: dict[str, Any]) -> None:
        from mongomock.filtering import filter_applies

        for stage in self.pipeline:
            if "$match" in stage and not filter_applies(stage["$match"], event):
                return
        for stage in self.pipeline:
            if "$project" in stage:
                keep = {k for k, v in stage["$project"].items() if v} | {"_id"}
                event = {k: v for k, v in event.items() if k in keep}
        self.events.put(event)


class FakeChangeStreams:
    """Installs ``Collection.watch`` and write hooks on mongomock; knobs for failures.

    ``refuse``: an exception every ``watch()`` raises (a server without change streams).
    ``break_with(exc)``: every open stream raises ``exc`` at its next ``try_next()`` (a lost stream).
    """

    def __init__(self) -> None:
        self.streams: list[FakeChangeStream] = []
        self.opened = 0
        self.refuse: BaseException | None = None
        self._lock = threading.RLock()
        self._depth = threading.local()  # mongomock's writes call each other: diff the outer call only
        self._ids = itertools.count(1)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeChangeStreams:
        from mongomock.collection import Collection

        hub = self

        def watch(
            coll: Any, pipeline: list[dict[str, Any]] | None = None, max_await_time_ms: int | None = None, **kwargs: Any
        ) -> FakeChangeStream:
            return hub.open(coll.full_name, list(pipeline or []), max_await_time_ms)

        monkeypatch.setattr(Collection, "watch", watch, raising=False)
        for name in WRITE_METHODS:
            monkeypatch.setattr(Collection, name, self._hooked(getattr(Collection, name)))
        return self

    def open(self, full_name: str, pipeline: list[dict[str, Any]], max_await_time_ms: int | None) -> FakeChangeStream:
        with self._lock:
            if self.refuse is not None:
                raise self.refuse
            self.opened += 1
            stream = FakeChangeStream(self, full_name, pipeline, max_await_time_ms)
            self.streams.append(stream)
            return stream

    def forget(self, stream: FakeChangeStream) -> None:
        with self._lock:
            if stream in self.streams:
                self.streams.remove(stream)

    def break_with(self, exc: BaseException) -> None:
        with self._lock:
            for stream in list(self.streams):
                stream.events.put(exc)

    def _hooked(self, write: Callable[..., Any]) -> Callable[..., Any]:
        hub = self

        def hooked(coll: Any, *args: Any, **kwargs: Any) -> Any:
            with hub._lock:
                watchers = [s for s in hub.streams if s.full_name == coll.full_name]
                if not watchers or getattr(hub._depth, "n", 0):
                    return write(coll, *args, **kwargs)
                before = {d["_id"]: d for d in coll.find({})}
                hub._depth.n = 1
                try:
                    result = write(coll, *args, **kwargs)
                finally:
                    hub._depth.n = 0
                after = {d["_id"]: d for d in coll.find({})}
                for event in hub._events(coll, before, after):
                    for stream in watchers:
                        stream.offer(event)
            return result
        return hooked

    def _events(
        self, coll: Any, before: dict[Any, dict[str, Any]], after: dict[Any, dict[str, Any]]
    ) -> list[dict[str, Any]]:
        db, _, name = coll.full_name.partition(".")
        events = []
        for _id, doc in after.items():
            base = {
                "_id": {"_data": f"{next(self._ids):016x}"}, "ns": {"db": db, "coll": name},
                "documentKey": {"_id": _id},
            }
            old = before.get(_id)
            if old is None:
                events.append({**base, "operationType": "insert", "fullDocument": doc})
            elif old != doc:
                updated = {k: v for k, v in doc.items() if k not in old or old[k] != v}
                removed = [k for k in old if k not in doc]
                events.append(
                    {
                        **base, "operationType": "update",
                        "updateDescription": {"updatedFields": updated, "removedFields": removed},
                    }
                )
        for _id in before.keys() - after.keys():
            events.append({"_id": {"_data": f"{next(self._ids):016x}"}, "ns": {"db": db, "coll": name},
                           "documentKey": {"_id": _id}, "operationType": "delete"})
        return events
