"""Requests per second for ``GET /api/v1/jobs/{job_id}`` against a real ``sc api serve`` (run by hand).

    .venv/bin/python bench/api.py [--requests 3000] [--concurrency 8] [--seconds 30] [--db URL]

The server runs as its own process (uvicorn on a free loopback port, over a fresh SQLite file
unless ``--db`` names a store); the load generator uses keep-alive connections from threads.
Both the default response (with ``explanation``, which costs a few queries) and
``?explain=false`` are measured. Bounded by ``--requests`` and ``--seconds`` each.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sccli.datasets import add_dataset
from sccli.queue import JobQueue
from sccli.store import open_store

TOKEN = "bench-token-" + uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(url: str, jobs: int) -> str:
    """A dataset and ``jobs`` pending jobs; returns the id of the newest one."""
    store = open_store(url)
    queue = JobQueue(store, actor="cli:bench@host")
    job_id = ""
    for _ in range(jobs):
        dataset = add_dataset(store, str(uuid.uuid4()))["uuid"]
        job_id = queue.create_job(dataset, "data_validation", {"bench": True})
    store.close()
    return job_id


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SC_API_TOKEN": TOKEN}
    args = [sys.executable, "-m", "sccli", "--db", url, "api", "serve", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(args, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/api/v1/health")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("sc api serve did not start within 30 s")


def load(port: int, path: str, requests: int, concurrency: int, seconds: float) -> tuple[int, float, list[float]]:
    """Send up to ``requests`` GETs from ``concurrency`` threads for at most ``seconds``."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    latencies: list[float] = []
    lock = threading.Lock()
    remaining = [requests]
    stop_at = time.monotonic() + seconds
    errors = [0]

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = []
        while time.monotonic() < stop_at:
            with lock:
                if remaining[0] <= 0:
                    break
                remaining[0] -= 1
            t0 = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - t0)
            if response.status != 200:
                errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors[0]:
        print(f"  warning: {errors[0]} non-200 responses")
    return len(latencies), elapsed, latencies


def report(label: str, done: int, elapsed: float, latencies: list[float]) -> None:
    ms = sorted(x * 1000 for x in latencies)
    p95 = ms[int(len(ms) * 0.95) - 1] if ms else float("nan")
    print(
        f"{label:<34} {done:>6} requests in {elapsed:6.2f} s = {done / elapsed:8.0f} req/s   p50 "
        f"{statistics.median(ms):6.1f} ms   p95 {p95:6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per measurement (default 3000)")
    parser.add_argument(
        "--concurrency", type=int, default=8, help="client threads with keep-alive connections (default 8)"
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="time limit per measurement (default 30)")
    parser.add_argument("--jobs", type=int, default=200, help="pending jobs in the store (default 200)")
    parser.add_argument("--db", help="store URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        job_id = seed(url, args.jobs)
        port = free_port()
        proc = start_server(url, port)
        try:
            print(f"GET /api/v1/jobs/{{id}} · {args.concurrency} client threads · {os.cpu_count()} CPUs · store {url.split('://')[0]}")
            load(port, f"/api/v1/jobs/{job_id}", min(200, args.requests), args.concurrency, 5)  # warm-up
            for label, path in (
                ("with explanation (default)", f"/api/v1/jobs/{job_id}"),
                ("?explain=false", f"/api/v1/jobs/{job_id}?explain=false"),
            ):
                report(label, *load(port, path, args.requests, args.concurrency, args.seconds))
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
