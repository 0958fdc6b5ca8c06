"""Fixtures of the API tests: an app over a fresh SQLite or mongomock store and its test client."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sccli.settings import Settings
from sccli.store.base import Store
from tests.conftest import make_spec

with warnings.catch_warnings():  # starlette's TestClient warns that it prefers httpx2 over httpx
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TOKEN = "portal-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Api:
    """A test client with its app's store and the headers of a valid token."""

    client: Any
    store: Store
    headers: dict[str, str]

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers=self.headers, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.client.post(path, headers=self.headers, **kwargs)


@pytest.fixture(params=["sqlite", "mongomock"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """The API over a fresh store of each in-process backend, with one token named ``portal``."""
    from sccli.api import create_app

    spec = make_spec(request.param, tmp_path)
    app = create_app(spec.url, spec.db_name, Settings(), {"portal": TOKEN})
    with TestClient(app) as client:
        yield Api(client, app.state.api.store, dict(AUTH))
