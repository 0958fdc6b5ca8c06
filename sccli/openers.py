"""What the queue is opened with and in whose name: a store from a URL or a client (the original
``SC_JobQueueManager`` took a pymongo client), and the actor of an administrator's action.
``sccli.queue`` re-exports both."""

from __future__ import annotations

import getpass
import os
import socket
from typing import Any

from sccli.errors import InvalidInput
from sccli.store import open_store
from sccli.store.base import Store


def default_actor() -> str:
    """``cli:<user>@<host>``, the actor of an administrator's action."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = str(os.getuid())
    return f"cli:{user}@{socket.gethostname()}"


def as_store(store_or_client: Store | Any, db_name: str | None = None) -> Store:
    """Accept a Store, a URL, or a pymongo/mongomock client (the original's constructor)."""
    if isinstance(store_or_client, Store):
        return store_or_client
    if store_or_client is None or isinstance(store_or_client, str):
        return open_store(store_or_client, db_name)
    if hasattr(store_or_client, "get_database"):
        from sccli.store.mongo import MongoStore

        return MongoStore.from_client(store_or_client, db_name or "scientistcloud")
    raise InvalidInput(f"cannot open a store from {type(store_or_client).__name__}")
