"""``sc api serve`` as a process: a graceful SIGTERM exits 0, and it serves the dashboard."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.api.test_serve import STARTUP_SECONDS, free_port

from .conftest import OPERATOR_TOKEN


def test_sigterm_stops_the_server_with_exit_0(tmp_path: Path) -> None:
    import httpx

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("SC_DB_URL", "MONGO_URL")}
    env["SC_API_TOKEN"] = OPERATOR_TOKEN
    args = [
        sys.executable, "-m", "sccli", "--db", f"sqlite:///{tmp_path / 'api.db'}", "api", "serve", "--port", str(port),
        "--log-level", "warning",
    ]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
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
            assert time.monotonic() < deadline, "sc api serve did not answer in time"
            time.sleep(0.05)
        login = httpx.get(f"{base}/", follow_redirects=False)
        assert login.status_code == 303 and login.headers["location"] == "/login?next=/"
        assert "htmx" in httpx.get(f"{base}/static/htmx.min.js").text[:2000].lower()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0, proc.communicate()[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
