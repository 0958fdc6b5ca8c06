"""Stores: one contract (:mod:`sccli.store.base`), a SQLite and a MongoDB backend."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from sccli.errors import InvalidInput
from sccli.store.base import JobChange, JobQuery, Store
from sccli.store.urls import (
    StoreTarget,
    check_mongo_url,
    describe_store,
    redact,
    resolve_store_target,
    resolve_url,
    sqlite_path_in_url,
)

if TYPE_CHECKING:
    from sccli.settings import Settings
    from sccli.store.sqlite import SqliteStore

__all__ = [
    "JobChange", "JobQuery", "Store", "StoreTarget", "describe_store", "open_store", "open_target",
    "redact", "resolve_store_target", "resolve_url", "store_timeout_ms",
]

DEFAULT_TIMEOUT_MS = 3000
#: Longest SC_DB_TIMEOUT_MS accepted (10 minutes): beyond it a command only seems to hang.
MAX_TIMEOUT_MS = 600_000


def open_store(
    url: str | None = None,
    db_name: str | None = None,
    timeout_ms: int | None = None,
    *,
    settings: Settings | None = None,
    create: bool = True,
) -> Store:
    """Open the store a URL names, resolved by :func:`resolve_store_target` (flags, env, settings).

    ``mongodb://`` and ``mongodb+srv://`` open MongoDB, ``mongomock://`` an in-process mongomock,
    ``sqlite:///path`` or a plain path a SQLite file. Nothing is connected until first use.
    ``create=False`` refuses to create a SQLite file that does not exist (read commands).
    """
    return open_target(resolve_store_target(url, db_name, settings), timeout_ms, create=create)


def open_target(target: StoreTarget, timeout_ms: int | None = None, *, create: bool = True) -> Store:
    """Open a resolved store. The default SQLite file is always created when missing."""
    url = target.url
    timeout = timeout_ms if timeout_ms is not None else store_timeout_ms()
    if "\x00" in url:
        raise InvalidInput("store URL contains a NUL character")
    if url.startswith(("mongodb://", "mongodb+srv://", "mongomock://")):
        from sccli.store.mongo import MongoStore

        if not url.startswith("mongomock://"):
            check_mongo_url(url, target.url_source)
        return MongoStore(url, target.db_name, timeout_ms=timeout)
    create = create or target.is_default
    path = sqlite_path_in_url(url)
    if path is None:
        raise InvalidInput(
            f"unsupported store URL {redact(url)!r} (from {target.url_source}; use mongodb://, "
            "sqlite:/// or a file path)"
        )
    return _sqlite(path or ":memory:", timeout, create)


#: Linux's PATH_MAX and NAME_MAX, in bytes: a longer SQLite path fails deep in sqlite3 or the OS.
PATH_MAX, NAME_MAX = 4096, 255


def _check_path_length(path: str) -> None:
    """Refuse (InvalidInput) a SQLite path no file system can hold, before anything opens it."""
    encoded = path.encode("utf-8", "surrogateescape")
    if len(encoded) >= PATH_MAX or max(len(part) for part in encoded.split(b"/")) > NAME_MAX:
        shown = path if len(path) <= 60 else path[:60] + "..."
        raise InvalidInput(f"SQLite path {shown!r} is too long (at most {PATH_MAX - 1} bytes, {NAME_MAX} per name)")


def store_timeout_ms() -> int:
    """``SC_DB_TIMEOUT_MS`` (default 3000): how long a command waits for the store."""
    raw = os.environ.get("SC_DB_TIMEOUT_MS", "").strip()
    if not raw:
        return DEFAULT_TIMEOUT_MS
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"SC_DB_TIMEOUT_MS must be a whole number of milliseconds, got {raw[:40]!r}") from None
    if not 1 <= value <= MAX_TIMEOUT_MS:
        raise InvalidInput(f"SC_DB_TIMEOUT_MS must be between 1 and {MAX_TIMEOUT_MS}, got {value}")
    return value


def _sqlite(path: str, timeout_ms: int, create: bool) -> SqliteStore:
    from sccli.store.sqlite import SqliteStore

    if path != ":memory:":
        _check_path_length(path)
    return SqliteStore(path, busy_timeout_ms=max(timeout_ms, 5000), create=create)
