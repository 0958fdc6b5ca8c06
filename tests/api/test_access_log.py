"""``sc api serve --log-json``: every stderr line a JSON object, one access line per request with
the token's name and never the token."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.service.conftest import wait_for

from .conftest import TOKEN
from .test_serve import _env, free_port

VIEWER = "viewer-token-0123456789abcdef"


def test_access_lines_name_the_token_never_show_it(tmp_path: Path) -> None:
    import httpx

    settings = tmp_path / "settings.json"
    settings.write_text(
        json.dumps({"api_tokens": {"portal": TOKEN, "grafana": VIEWER}, "api_roles": {"grafana": "viewer"}})
    )
    port, err = free_port(), tmp_path / "api.err"
    args = [
        sys.executable,
        "-m",
        "sccli",
        "--db",
        f"sqlite:///{tmp_path / 'api.db'}",
        "--settings",
        str(settings),
        "api",
        "serve",
        "--port",
        str(port),
        "--log-json",
    ]
    with err.open("w") as stderr:
        proc = subprocess.Popen(args, env=_env(), stdout=subprocess.DEVNULL, stderr=stderr, text=True)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, err.read_text()
        try:
            return httpx.get(f"{base}/api/v1/health", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(up, timeout=20, what="sc api serve")
        with httpx.Client(base_url=base, timeout=10.0) as client:
            assert (
                client.get("/api/v1/jobs?status=pending", headers={"Authorization": f"Bearer {TOKEN}"}).status_code
                == 200
            )
            assert client.get("/metrics", headers={"Authorization": f"Bearer {VIEWER}"}).status_code == 200
            assert (
                client.get("/api/v1/jobs", headers={"Authorization": "Bearer not-a-token-000000000"}).status_code == 401
            )
            assert client.get("/api/v1/jobs").status_code == 401

        def access() -> list[dict]:
            lines = [json.loads(line) for line in err.read_text().splitlines()]  # every line is JSON
            return [r for r in lines if r["logger"] == "sccli.api.access" and r["path"] != "/api/v1/health"]

        records = wait_for(lambda: len(access()) == 4 and access(), what="4 access lines")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    seen = [(r["method"], r["path"], r["status"], r["token_name"], r["level"]) for r in records]
    assert seen == [
        ("GET", "/api/v1/jobs", 200, "portal", "info"),
        ("GET", "/metrics", 200, "grafana", "info"),
        ("GET", "/api/v1/jobs", 401, "invalid", "info"),
        ("GET", "/api/v1/jobs", 401, "-", "info"),
    ]
    assert all(isinstance(r["duration_s"], float) and r["client"] == "127.0.0.1" for r in records)
    text = err.read_text()
    assert TOKEN not in text and VIEWER not in text and "status=pending" not in text
    assert any("sc api: dashboard" in json.loads(line)["message"] for line in text.splitlines())


def test_dashboard_session_is_named_in_the_access_line(tmp_path: Path) -> None:
    import logging

    from fastapi.testclient import TestClient

    from sccli.api import create_app
    from sccli.settings import Settings

    app = create_app(f"sqlite:///{tmp_path / 'd.db'}", "x", Settings(), {"alice": TOKEN})
    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append  # type: ignore[method-assign]
    logger = logging.getLogger("sccli.api.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with TestClient(app, base_url="http://127.0.0.1") as client:
            signed_in = client.post("/login", data={"token": TOKEN}, follow_redirects=False)
            assert signed_in.status_code == 303, signed_in.text
            assert client.get("/").status_code == 200
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    names = [(r.path, r.token_name) for r in seen]  # type: ignore[attr-defined]
    assert ("/login", "-") in names and ("/", "alice") in names
    assert all(TOKEN not in r.getMessage() for r in seen)
