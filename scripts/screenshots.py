"""Screenshots of the dashboard (overview, a running job, the 7-day report) for the README.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--width 1280]

Builds demo data in a temporary SQLite store (a month of finished jobs of every type, as
``bench/monitor.py`` fills them, plus live work made through the queue: pending jobs, a running
job with progress and a log file, recent failures, a service heartbeat), serves it with
``sc api serve`` on a free loopback port, signs in with headless Chromium (Debian's
``chromium`` + ``chromium-driver``) and saves full-page PNGs in light and dark.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TOKEN = "demo-operator-token-0123456789"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def build_demo(db: Path, log_dir: Path) -> str:
    """Fill the store; return the id of the running job."""
    from bench.monitor import fill
    from sccli.clock import utcnow
    from sccli.datasets import add_dataset
    from sccli.queue import JobQueue
    from sccli.store import open_store

    store = open_store(f"sqlite:///{db}")
    store.ensure_schema()
    fill(store, 6000, days=30)  # type: ignore[arg-type]
    queue = JobQueue(store, actor="cli:demo@host", retry_base_seconds=0, retry_max_seconds=0)
    names = ["brain-ct-2026-11", "tomo-sample-17", "4d-probe-run-3", "drive-sync-lab", "upload-batch-9", "mri-phantom"]
    datasets = [add_dataset(store, str(uuid.uuid4()), name, "submitted")["uuid"] for name in names]
    for dataset in datasets[:3]:
        queue.create_job(dataset, "data_validation")
    running_id = queue.create_job(
        datasets[3], "dataset_conversion", {"input_path": "/mnt/visus_datasets/upload/tomo", "sensor_type": "TIFF"}
    )
    running = queue.claim_next("demo-host:4242", types=["dataset_conversion"], host="demo-host", pid=4242)
    assert running is not None and running["job_id"] == running_id
    queue.heartbeat(running_id, running["lease_token"], 62.5, "slice 30 of 48")
    (log_dir / f"sc_job_{running_id}.log").write_text(
        "".join(f"2026-12-01T07:{i:02d}:00 INFO converting slice {i} of 48\n" for i in range(31))
    )
    for i, dataset in enumerate(datasets[4:]):
        job_id = queue.create_job(dataset, "file_upload", {"files": ["a.tif"]})
        claimed = queue.claim_next("demo-host:4242", types=["file_upload"], host="demo-host", pid=4242)
        assert claimed is not None
        queue.fail(job_id, claimed["lease_token"], f"HTTP 503 from drive after {3 + i} tries", retry=False)
    store.upsert_worker(
        {
            "worker_id": "demo-host:4242", "host": "demo-host", "pid": 4242, "started_at": utcnow(),
            "heartbeat_at": utcnow(), "status": "running", "types": None, "slots": 2, "offline": False,
            "running_jobs": [running_id], "version": "demo",
        }
    )
    store.close()
    return running_id


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(db: Path, settings: Path, port: int) -> subprocess.Popen[bytes]:
    import httpx

    env = {**os.environ, "SC_API_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable, "-m", "sccli", "--db", f"sqlite:///{db}", "--settings", str(settings), "api", "serve", "--port",
        str(port), "--log-level", "warning",
    ]
    proc = subprocess.Popen(cmd, env=env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("sc api serve did not start")


def browser(width: int, dark: bool) -> Any:
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},900",
        "--hide-scrollbars",
    ):
        options.add_argument(arg)
    if dark:
        options.add_argument("--force-dark-mode")
        options.add_argument("--blink-settings=preferredColorScheme=0")
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))


def shoot(driver: Any, url: str, path: Path, width: int) -> None:
    driver.get(url)
    time.sleep(0.3)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(int(height) + 120, 4000))
    time.sleep(0.2)
    driver.save_screenshot(str(path))
    print(f"saved {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--all", action="store_true", help="also the jobs and failures pages")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        dirs = {key: base / key for key in ("in_data_dir", "out_data_dir", "sync_data_dir", "auth_dir", "log_dir")}
        for path in dirs.values():
            path.mkdir()
        settings = base / "settings.json"
        settings.write_text(json.dumps({key: str(path) for key, path in dirs.items()}))
        running_id = build_demo(base / "demo.db", dirs["log_dir"])
        port = free_port()
        server = start_server(base / "demo.db", settings, port)
        root = f"http://127.0.0.1:{port}"
        try:
            for dark in (False, True):
                driver = browser(args.width, dark)
                try:
                    driver.get(f"{root}/login")
                    driver.find_element("id", "token").send_keys(TOKEN)
                    driver.find_element("css selector", "button[type=submit]").click()
                    suffix = "-dark" if dark else ""
                    shoot(driver, f"{root}/", args.out / f"overview{suffix}.png", args.width)
                    shoot(driver, f"{root}/jobs/{running_id}", args.out / f"job{suffix}.png", args.width)
                    shoot(driver, f"{root}/report?days=7", args.out / f"report{suffix}.png", args.width)
                    if args.all:
                        shoot(driver, f"{root}/jobs", args.out / f"jobs{suffix}.png", args.width)
                        shoot(driver, f"{root}/failures?hours=168", args.out / f"failures{suffix}.png", args.width)
                finally:
                    driver.quit()
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(10)


if __name__ == "__main__":
    main()
