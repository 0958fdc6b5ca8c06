"""An unreachable store: health says 503, and so does every endpoint that needs the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from sccli.settings import Settings

from .conftest import AUTH, TOKEN, TestClient


@pytest.fixture
def unreachable_url(tmp_path: Path) -> str:
    """A SQLite "file" that is a directory: every connection attempt fails."""
    (tmp_path / "db").mkdir()
    return f"sqlite:///{tmp_path / 'db'}"


def test_unreachable_store_gives_503(unreachable_url: str) -> None:
    from sccli.api import create_app

    app = create_app(unreachable_url, "x", Settings(), {"portal": TOKEN})
    with TestClient(app) as client:
        health = client.get("/api/v1/health")
        assert health.status_code == 503
        assert health.json()["status"] == "unavailable" and health.json()["detail"]
        assert health.headers["retry-after"]
        job = client.get("/api/v1/jobs/some-job", headers=AUTH)
        assert job.status_code == 503 and "SQLite" in job.json()["detail"]
        assert client.get("/api/v1/jobs/queue/stats", headers=AUTH).status_code == 503
