"""Shared fixtures: every store-facing test runs on SQLite, mongomock and (when
SC_TEST_MONGO_URL is set) the MongoDB wire-protocol server. In CI a missing wire server
fails instead of skipping."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from sccli.queue import JobQueue
from sccli.store import open_store
from sccli.store.base import Store

BACKENDS = ["sqlite", "mongomock", "wire"]


@dataclass
class StoreSpec:
    """How to reach a test store from this process or a child process."""

    kind: str
    url: str
    db_name: str

    def open(self) -> Store:
        return open_store(self.url, self.db_name)


def wire_url() -> str | None:
    url = os.environ.get("SC_TEST_MONGO_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("SC_TEST_MONGO_URL is not set in CI: the wire test server did not start")
        pytest.skip("no wire-protocol MongoDB (set SC_TEST_MONGO_URL or install node)")
    return url


def make_spec(kind: str, tmp_path: Path) -> StoreSpec:
    name = f"sctest_{uuid.uuid4().hex[:12]}"
    if kind == "sqlite":
        return StoreSpec(kind, f"sqlite:///{tmp_path / 'sc.db'}", name)
    if kind == "mongomock":
        return StoreSpec(kind, f"mongomock://{name}", name)
    url = wire_url()
    assert url is not None
    return StoreSpec(kind, url, name)


def _drop(spec: StoreSpec, store: Store) -> None:
    if spec.kind == "wire":
        try:
            store.client.drop_database(spec.db_name)  # type: ignore[attr-defined]
        except Exception:
            pass
    store.close()


@pytest.fixture(params=BACKENDS)
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    """A fresh, empty store of each backend (parametrised)."""
    return make_spec(request.param, tmp_path)


@pytest.fixture
def store(store_spec: StoreSpec) -> Iterator[Store]:
    s = store_spec.open()
    s.ensure_schema()
    yield s
    _drop(store_spec, s)


@pytest.fixture
def sqlite_spec(tmp_path: Path) -> StoreSpec:
    return make_spec("sqlite", tmp_path)


@pytest.fixture
def wire_spec(tmp_path: Path) -> Iterator[StoreSpec]:
    spec = make_spec("wire", tmp_path)
    yield spec
    _drop(spec, spec.open())


@pytest.fixture
def queue(store: Store) -> JobQueue:
    """A queue with tiny retry delays so tests never wait."""
    return JobQueue(store, actor="cli:test@host", retry_base_seconds=0.0, retry_max_seconds=0.0)


def new_uuid() -> str:
    return str(uuid.uuid4())


def add_dataset(store: Store, status: str = "submitted", **fields: Any) -> str:
    from sccli.datasets import add_dataset as _add

    return str(_add(store, new_uuid(), "test dataset", status, **fields)["uuid"])
