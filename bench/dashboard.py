"""Render time of each dashboard page at 1,000,000 jobs on SQLite (run by hand).

    .venv/bin/python bench/dashboard.py [--jobs 1000000] [--db PATH] [--runs 3]

Fills a SQLite file as ``bench/monitor.py`` does (90 days of finished jobs; kept with
``--db PATH`` and reused when it already holds ``--jobs`` jobs), adds live work through the
queue (pending jobs, a running job with a log, recent failures, a service heartbeat), then
requests every page through FastAPI's TestClient with a signed-in session: the time includes
the store queries, the template and the HTTP round trip in process (no network), and never the
reuse of a recent overview or report (cleared before each request). Prints the first (cold) and
best of ``--runs`` per page. Target: every page well under a second.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.monitor import fill  # noqa: E402
from sccli.datasets import add_dataset  # noqa: E402
from sccli.queue import JobQueue  # noqa: E402
from sccli.settings import Settings  # noqa: E402
from sccli.store import open_store  # noqa: E402
from sccli.store.base import JobQuery  # noqa: E402

TOKEN = "bench-operator-token-0123456789"
LIVE_PENDING = 500


def prepare(path: Path, jobs: int, log_dir: Path) -> dict[str, str]:
    """Fill (or reuse) the store; return ids the pages need (a job, a dataset)."""
    store = open_store(f"sqlite:///{path}")
    store.ensure_schema()
    have = store.count_jobs(JobQuery())
    if have < jobs:
        print(f"filling {path} with {jobs - have:,} jobs over 90 days ...")
        start = time.perf_counter()
        fill(store, jobs - have)  # type: ignore[arg-type]
        print(f"  filled in {time.perf_counter() - start:.1f} s")
    running = store.find_jobs(JobQuery(status=["running"]), limit=1)
    if not running:  # first run on this file: add the live work
        queue = JobQueue(store, actor="cli:bench@host", retry_base_seconds=0, retry_max_seconds=0)
        dataset = add_dataset(store, str(uuid.uuid4()), "bench dataset", "submitted")["uuid"]
        for _ in range(LIVE_PENDING):
            queue.create_job(dataset, "data_validation", allow_duplicate=True)
        queue.create_job(dataset, "dataset_conversion", {"input_path": "/x"})
        claimed = queue.claim_next("bench:1", types=["dataset_conversion"], host="bench", pid=1)
        assert claimed is not None
        queue.heartbeat(claimed["job_id"], claimed["lease_token"], 50.0, "half way")
        running = [claimed]
    job = running[0]
    (log_dir / f"sc_job_{job['job_id']}.log").write_text("".join(f"line {i}\n" for i in range(10_000)))
    store.close()
    return {"job": job["job_id"], "dataset": job["dataset_uuid"]}


def pages(ids: dict[str, str]) -> dict[str, str]:
    return {
        "overview": "/", "overview fragment (htmx poll)": "/fragments/overview", "jobs": "/jobs",
        "jobs page 1000": "/jobs?page=1000", "jobs status=failed": "/jobs?status=failed",
        "jobs job_type=google_sync": "/jobs?job_type=google_sync",
        "jobs status=failed error=timeout": "/jobs?status=failed&error=timeout",
        "jobs error=503 (any status)": "/jobs?error=503", "jobs dataset=...": f"/jobs?dataset={ids['dataset']}",
        "job (running, 10k-line log)": f"/jobs/{ids['job']}",
        "job fragment (htmx poll)": f"/fragments/jobs/{ids['job']}", "failures 24 h": "/failures?hours=24",
        "failures 7 days": "/failures?hours=168", "report 1 day": "/report?days=1", "report 7 days": "/report?days=7",
        "report 30 days": "/report?days=30", "datasets": "/datasets", "dataset": f"/datasets/{ids['dataset']}",
        "/metrics": "/metrics",
    }


def timed(client: Any, path: str, runs: int, headers: dict[str, str]) -> tuple[float, float, int]:
    times, size = [], 0
    for _ in range(runs):
        client.app.state.api.cache.clear()  # time the computation, not the reuse of the overview or a report
        start = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        size = len(response.content)
    return times[0], min(times), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="SQLite file to fill (kept); default: a temporary file")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as tmp:
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

        from sccli.api import create_app

        path = args.db or Path(tmp) / "bench.db"
        ids = prepare(path, args.jobs, Path(tmp))
        app = create_app(f"sqlite:///{path}", "scientistcloud", Settings(log_dir=tmp), {"bench": TOKEN})
        with TestClient(app) as client:
            client.post(
                "/login", data={"token": TOKEN}, headers={"Origin": "http://testserver"}, follow_redirects=False
            )
            total = app.state.api.store.count_jobs(JobQuery())
            print(
                f"\nSQLite: {total:,} jobs, file {path.stat().st_size / 2**20:,.0f} MiB; each page "
                "through TestClient, signed in"
            )
            print(f"{'page':<36}{'first':>9}{'best':>9}{'KiB':>8}   (of {args.runs})")
            auth = {"Authorization": f"Bearer {TOKEN}"}
            for name, url in pages(ids).items():
                first, best, size = timed(client, url, args.runs, auth if url == "/metrics" else {})
                print(f"{name:<36}{first:>8.3f}s{best:>8.3f}s{size / 1024:>8.0f}")


if __name__ == "__main__":
    main()
