"""What tests do to a store behind its contract (the portal's own writes, a dropped index, a
legacy document, the connection's owner), written once per backend.

The contract deliberately has no call for these; tests that need one ask :func:`backdoor` for the
store's and say what they do, so no test branches on which backend it holds.
"""

from __future__ import annotations

from typing import Any

from sccli.store.base import Store
from sccli.store.mongo import MongoStore
from sccli.store.sqlite import SqliteStore


class SqliteBackdoor:
    """SQLite: NOT NULL columns beside the document, one connection per process."""

    #: A job document without ``created_at`` (the column is NOT NULL) cannot be stored.
    holds_legacy_documents = False
    claim_index = "ix_jobs_claim"

    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    def delete_dataset(self, uuid: str) -> None:
        with self.store._write() as conn:
            conn.execute(f"DELETE FROM {self.store.names['datasets']} WHERE uuid = ?", (uuid,))

    def drop_claim_index(self) -> str:
        self.store.conn.execute(f"DROP INDEX {self.claim_index}")
        return self.claim_index

    def owner_pid(self) -> int:
        """The PID that opened the connection the store would use now."""
        self.store.conn  # noqa: B018 - opens (or reuses) this process's connection
        return int(self.store._local.pid)


class MongoBackdoor:
    """MongoDB: schemaless documents, one client per process."""

    holds_legacy_documents = True
    claim_index = "claim_priority"

    def __init__(self, store: MongoStore) -> None:
        self.store = store

    def delete_dataset(self, uuid: str) -> None:
        self.store.coll("datasets").delete_many({"uuid": uuid})

    def drop_claim_index(self) -> str:
        self.store.coll("jobs").drop_index(self.claim_index)
        return self.claim_index

    def owner_pid(self) -> int:
        self.store.client  # noqa: B018 - opens (or reuses) this process's client
        return int(self.store._pid or 0)


def backdoor(store: Store | Any) -> SqliteBackdoor | MongoBackdoor:
    """The backdoor of ``store``'s backend."""
    if isinstance(store, SqliteStore):
        return SqliteBackdoor(store)
    if isinstance(store, MongoStore):
        return MongoBackdoor(store)
    raise TypeError(f"no backdoor for {type(store).__name__}")
