"""``sc api serve`` as a real process on a free loopback port, and its refusals to start."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sccli.store import open_store
from tests.conftest import add_dataset

from .conftest import TOKEN

STARTUP_SECONDS = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SC_API_TOKEN", "SC_DB_URL", "MONGO_URL")}
    env.update(extra)
    return env


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A running ``sc api serve`` over a SQLite file: (base URL, store URL)."""
    import httpx

    db = f"sqlite:///{tmp_path / 'api.db'}"
    port = free_port()
    args = [sys.executable, "-m", "sccli", "--db", db, "api", "serve", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(
        args, env=_env(SC_API_TOKEN=TOKEN), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while True:
            assert proc.poll() is None, f"sc api serve exited early: {proc.communicate()[1]}"
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "sc api serve did not answer /api/v1/health in time"
            time.sleep(0.05)
        yield base, db
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_real_server_serves_jobs_with_a_token(server: tuple[str, str]) -> None:
    import httpx

    base, db = server
    store = open_store(db, "x")
    datasets = [add_dataset(store) for _ in range(4)]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base, timeout=10.0) as client:
        assert client.get("/api/v1/jobs").status_code == 401
        created = client.post(
            "/api/v1/jobs", json={"dataset_uuid": datasets[0], "job_type": "dataset_conversion"}, headers=auth
        )
        assert created.status_code == 201, created.text
        job = created.json()
        assert job["created_by"] == "api:env"
        assert client.get(f"/api/v1/jobs/{job['job_id']}", headers=auth).json()["status"] == "pending"
        assert client.get("/api/v1/openapi.json").json()["info"]["title"]

    def create(dataset: str) -> int:  # concurrent writers exercise the threadpool's per-thread SQLite connections
        with httpx.Client(base_url=base, timeout=10.0) as c:
            return c.post(
                "/api/v1/jobs", json={"dataset_uuid": dataset, "job_type": "data_validation"}, headers=auth
            ).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert sorted(pool.map(create, datasets + datasets[:2])) == [201, 201, 201, 201, 409, 409]
    assert store.get_job(job["job_id"])["created_by"] == "api:env"


def test_serve_refuses_to_start_without_a_token_or_off_loopback(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sccli.cli.app import app

    db = f"sqlite:///{tmp_path / 'api.db'}"
    unset = {"SC_API_TOKEN": None, "SC_DB_URL": None, "MONGO_URL": None}
    runs = {
        "no API token": ["--db", db, "api", "serve"],
        "loopback": ["--db", db, "api", "serve", "--host", "0.0.0.0", "--no-auth"],
    }
    for message, args in runs.items():
        result = CliRunner().invoke(app, args, env=unset)
        assert result.exit_code == 2 and message in result.output, result.output
    weak = CliRunner().invoke(app, ["--db", db, "api", "serve"], env={**unset, "SC_API_TOKEN": "short"})
    assert weak.exit_code == 2 and "at least 16" in weak.output
