"""Waiting for the first of many descriptors, with one ``poll`` object kept across calls.

:func:`multiprocessing.connection.wait` builds and fills a new selector on every call; the
supervisor waits several times per job, on a set that changes only when a job starts or ends.
"""

from __future__ import annotations

import select
from typing import Any

_READY = select.POLLIN | select.POLLHUP | select.POLLERR | select.POLLNVAL


class Waiter:
    """Waits until any of the given objects (descriptors, or objects with ``fileno()``) is readable."""

    def __init__(self) -> None:
        self._poll = select.poll()
        self._watched: dict[int, Any] = {}  # descriptor -> the object waited on

    def wait(self, objects: list[Any], timeout: float | None) -> list[Any]:
        """The objects that are ready (readable, closed or in error) within ``timeout`` seconds."""
        wanted = {obj if isinstance(obj, int) else obj.fileno(): obj for obj in objects}
        for fd in self._watched.keys() - wanted.keys():
            self._poll.unregister(fd)
        for fd in wanted.keys() - self._watched.keys():
            self._poll.register(fd, select.POLLIN)
        self._watched = wanted
        try:
            events = self._poll.poll(None if timeout is None else max(0, int(timeout * 1000 + 0.999)))
        except InterruptedError:
            return []
        return [wanted[fd] for fd, event in events if event & _READY and fd in wanted]
