"""Fixtures of the dashboard tests: an app with an operator and a viewer token, signed-in clients."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sccli.queue import JobQueue
from sccli.settings import Settings
from sccli.store.base import Store
from tests.conftest import make_spec

with warnings.catch_warnings():  # starlette's TestClient warns that it prefers httpx2 over httpx
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

OPERATOR_TOKEN = "portal-token-0123456789abcdef"
VIEWER_TOKEN = "viewer-token-0123456789abcdef"
TOKENS = {"portal": OPERATOR_TOKEN, "watcher": VIEWER_TOKEN}
ROLES = {"watcher": "viewer"}
ORIGIN = "http://testserver"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Dash:
    """A test client over the app, its store and a queue to arrange jobs with."""

    client: Any
    store: Store
    queue: JobQueue
    settings: Settings

    def sign_in(self, token: str = OPERATOR_TOKEN) -> None:
        response = self.client.post(
            "/login", data={"token": token, "next": "/"}, headers={"Origin": ORIGIN}, follow_redirects=False
        )
        assert response.status_code == 303, response.text

    def csrf(self, path: str = "/jobs") -> str:
        page = self.client.get(path)
        assert page.status_code == 200, page.text
        match = CSRF_FIELD.search(page.text)
        assert match, "no CSRF field on the page"
        return match.group(1)

    def post(self, path: str, data: dict[str, Any] | list[tuple[str, str]], **headers: str) -> Any:
        """A form post from this site (a list of pairs repeats fields, as checkboxes do)."""
        from urllib.parse import urlencode

        body = urlencode(list(data.items()) if isinstance(data, dict) else data)
        sent = {"Origin": ORIGIN, "Content-Type": "application/x-www-form-urlencoded", **headers}
        return self.client.post(path, content=body, headers=sent, follow_redirects=False)


def make_dash(tmp_path: Path, backend: str = "sqlite", **settings: Any) -> Iterator[Dash]:
    from sccli.api import create_app

    spec = make_spec(backend, tmp_path)
    (tmp_path / "logs").mkdir(parents=True, exist_ok=True)
    config = Settings(
        api_roles=dict(ROLES), log_dir=str(tmp_path / "logs"), retry_base_seconds=0, retry_max_seconds=0, **settings
    )
    app = create_app(spec.url, spec.db_name, config, dict(TOKENS))
    with TestClient(app) as client:
        store = app.state.api.store
        store.ensure_schema()
        yield Dash(
            client, store, JobQueue(store, actor="cli:test@host", retry_base_seconds=0, retry_max_seconds=0), config
        )


@pytest.fixture(params=["sqlite", "mongomock"])
def dash(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Dash]:
    """The dashboard over a fresh store of each in-process backend, not signed in."""
    yield from make_dash(tmp_path, request.param)


@pytest.fixture(params=["sqlite", "mongomock"])
def operator(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Dash]:
    """The dashboard over each in-process backend, signed in with the operator token."""
    for dash in make_dash(tmp_path, request.param):
        dash.sign_in(OPERATOR_TOKEN)
        yield dash


def failed_job(
    queue: JobQueue, dataset: str, error: str = "converter exited with code 3", job_type: str = "data_validation"
) -> str:
    """A job that failed for good with ``error``."""
    job_id = queue.create_job(dataset, job_type, max_attempts=1, allow_duplicate=True)
    claimed = queue.claim_next("w1", types=[job_type])
    assert claimed is not None and claimed["job_id"] == job_id
    queue.fail(job_id, claimed["lease_token"], error, retry=False)
    return job_id
