"""Stores: one contract (:mod:`sccli.store.base`), a SQLite and a MongoDB backend."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from sccli.errors import InvalidInput
from sccli.store.base import JobChange, JobQuery, Store
from sccli.store.urls import redact, resolve_db_name, resolve_url

if TYPE_CHECKING:
    from sccli.store.sqlite import SqliteStore

__all__ = ["JobChange", "JobQuery", "Store", "open_store", "redact", "resolve_url"]


def open_store(url: str | None = None, db_name: str | None = None, timeout_ms: int | None = None) -> Store:
    """Open the store a URL names (see :func:`resolve_url` for the order of precedence).

    ``mongodb://`` and ``mongodb+srv://`` open MongoDB, ``mongomock://`` an in-process mongomock,
    ``sqlite:///path`` or a plain path a SQLite file. Nothing is connected until first use.
    """
    url = resolve_url(url)
    name = resolve_db_name(db_name)
    timeout = timeout_ms if timeout_ms is not None else int(os.environ.get("SC_DB_TIMEOUT_MS", "3000"))
    if url.startswith(("mongodb://", "mongodb+srv://", "mongomock://")):
        from sccli.store.mongo import MongoStore

        return MongoStore(url, name, timeout_ms=timeout)
    if url.startswith("sqlite://"):
        path = url[len("sqlite://"):]
        if path.startswith("//"):  # sqlite:////abs/path
            path = path[1:]
        return _sqlite(path or ":memory:", timeout)
    if "://" in url:
        raise InvalidInput(f"unsupported store URL {redact(url)!r} (use mongodb://, sqlite:/// or a file path)")
    return _sqlite(url, timeout)


def _sqlite(path: str, timeout_ms: int) -> SqliteStore:
    from sccli.store.sqlite import SqliteStore

    return SqliteStore(path, busy_timeout_ms=max(timeout_ms, 5000))
