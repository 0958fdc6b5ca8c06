"""Timings of ``sc monitor`` at 1,000,000 jobs over 90 days on SQLite, and the MongoDB plans (run by hand).

    .venv/bin/python bench/monitor.py [--jobs 1000000] [--db PATH] [--runs 3] [--mongo URL]

Fills a SQLite file (kept with ``--db PATH`` and reused when it already holds ``--jobs`` jobs)
through ``executemany`` on the raw connection, then times ``overview``, ``report --days 7``,
``failed --hours 24`` and ``cleanup --dry-run --days 30`` through the library (best and first of
``--runs``) and through the CLI (one process each, interpreter start-up included). The report
over 1, 7, 30 and 90 days shows the cost following the window, not the table.
Target: each command under 1 s at 1M jobs.

For MongoDB each monitoring pipeline is checked: with ``explain`` where the server has it (a
real mongod via ``--mongo``), else (mongomock, the wire test server) by matching the opening
``$match`` against the collection's indexes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sccli.clock import utcnow
from sccli.monitor import JobMonitor
from sccli.monitor.metrics import queue_metrics_text
from sccli.store import open_store
from sccli.store.base import JobQuery
from sccli.store.sqlite import SqliteStore
from sccli.store.sqlite_schema import JOB_COLUMNS

TYPES = {  # job_type: (share, median seconds, failure rate)
    "dataset_conversion": (0.35, 1200, 0.04), "google_sync": (0.2, 600, 0.08), "file_upload": (0.15, 300, 0.03),
    "file_extraction": (0.1, 120, 0.02), "data_compression": (0.07, 600, 0.02), "rsync_transfer": (0.05, 1500, 0.05),
    "backup_creation": (0.05, 900, 0.01), "data_validation": (0.03, 300, 0.01),
}
NAMES, WEIGHTS = list(TYPES), [t[0] for t in TYPES.values()]
ERRORS = [
    "input /mnt/visus_datasets/upload/{u}/data.bin not found", "HTTP 503 from drive after {n} tries",
    "converter exited with code {n}", "timeout after {n}s", "rsync error {n} at main.c({n})",
]


def job_row(rng: random.Random, completed: float) -> list[Any]:
    """One finished job as column values plus its JSON document (times as epoch seconds)."""
    job_type = rng.choices(NAMES, weights=WEIGHTS)[0]
    _, median, fail_rate = TYPES[job_type]
    completed = round(completed, 3)
    started = round(completed - max(1.0, rng.lognormvariate(0, 0.6) * median), 3)
    created = started - 30.0
    roll = rng.random()
    status = "failed" if roll < fail_rate else "cancelled" if roll < fail_rate + 0.01 else "completed"
    attempts = 2 if status == "failed" or rng.random() < 0.05 else 1
    error = rng.choice(ERRORS).format(u=uuid.uuid4(), n=rng.randint(1, 999)) if status == "failed" else None
    kinds = ("error", "timeout")
    errors = [
        {"attempt": a, "at": {"$date": started}, "error": error or "retry", "worker": "w1", "kind": kinds[a % 2]}
        for a in range(1, attempts)
    ]
    job_id, dataset = str(uuid.uuid4()), str(uuid.uuid4())
    doc = {
        "job_id": job_id,
        "dataset_uuid": dataset,
        "job_type": job_type,
        "status": status,
        "priority": 2,
        "parameters": {
            "input_path": "/mnt/visus_datasets/upload/x", "output_path": "/mnt/visus_datasets/converted/x",
            "sensor_type": "4D_Probe",
        },
        "attempts": attempts,
        "max_attempts": 2,
        "timeout_minutes": 120,
        "created_at": {"$date": created},
        "updated_at": {"$date": completed},
        "started_at": {"$date": started},
        "completed_at": {"$date": completed},
        "run_after": {"$date": created},
        "worker_id": "w1",
        "pid": 4242,
        "host": "bench",
        "lease_token": None,
        "heartbeat_at": None,
        "cancel_requested": False,
        "progress_percentage": 100,
        "progress_message": None,
        "result": {},
        "error": error,
        "errors": errors,
        "logs": [{"timestamp": {"$date": completed}, "message": "done"}],
        "parent_job_id": None,
        "created_by": "bench",
        "migration_id": None,
    }
    assert len(JOB_COLUMNS) == 19 and JOB_COLUMNS[9] == "completed_at", "JOB_COLUMNS changed: update job_row"
    return [
        job_id, dataset, job_type, status, 2, created, created, completed, started, completed, None, "w1", None, None,
        attempts, 2, 0, None, None, json.dumps(doc, separators=(",", ":")),
    ]


def fill(store: SqliteStore, jobs: int, days: int = 90) -> float:
    """Insert ``jobs`` finished jobs spread over ``days``, oldest first as a live queue writes
    them (so rows of one window sit together on disk); seconds taken."""
    rng = random.Random(42)
    now, span = utcnow().timestamp(), days * 86400.0
    times = sorted(now - rng.random() * span for _ in range(jobs))
    conn = store.conn
    sql = (
        f"INSERT INTO {store.names['jobs']} ({','.join(JOB_COLUMNS)}, doc) VALUES "
        f"({','.join('?' * (len(JOB_COLUMNS) + 1))})"
    )
    start = time.perf_counter()
    batch = 50_000
    for offset in range(0, jobs, batch):
        rows = [job_row(rng, t) for t in times[offset : offset + batch]]
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
        print(f"  {offset + len(rows):>9,} jobs", end="\r", flush=True)
    print()
    return time.perf_counter() - start


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    """(first, best) wall time in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times[0], min(times)


def sqlite_bench(path: Path, jobs: int, runs: int) -> None:
    store = open_store(f"sqlite:///{path}")
    assert isinstance(store, SqliteStore)
    store.ensure_schema()
    have = store.count_jobs(JobQuery())
    if have < jobs:
        print(f"filling {path} with {jobs:,} jobs over 90 days ...")
        print(f"  filled in {fill(store, jobs - have):.1f} s")
    size = path.stat().st_size / 2**20
    print(f"\nSQLite: {jobs:,} jobs, file {size:,.0f} MiB")
    monitor = JobMonitor(store)
    cases = {
        "overview": monitor.get_queue_overview,
        "report --days 7": lambda: monitor.get_performance_report(7),
        "report --days 30": lambda: monitor.get_performance_report(30),
        "stale": monitor.get_stale_jobs,
        "failed --hours 24 (groups)": lambda: monitor.get_failure_groups(24),
        "failed --hours 24 (job list)": lambda: monitor.get_failed_jobs(24),
        "cleanup --dry-run --days 30": lambda: monitor.cleanup_old_data(30, dry_run=True),
        "metrics --json": monitor.get_performance_metrics,
        "/metrics (queue gauges)": lambda: queue_metrics_text(monitor),
    }
    print(f"{'library call':<32}{'first':>9}{'best':>9}   (of {runs})")
    for name, fn in cases.items():
        first, best = timed(fn, runs)
        print(f"{name:<32}{first:>8.3f}s{best:>8.3f}s")
    print("\nreport by window (cost follows the jobs in the window):")
    for days in (1, 7, 30, 90):
        window = monitor.get_performance_report(days)["summary"]["total_jobs"]
        first, best = timed(lambda d=days: monitor.get_performance_report(d), runs)  # type: ignore[misc]
        print(f"  report --days {days:<3} {window:>9,} jobs  best {best:.3f}s")
    cli_bench(path)


def cli_bench(path: Path) -> None:
    sc = str(Path(sys.executable).with_name("sc"))
    commands = [
        ["overview", "--json"], ["report", "--days", "7", "--json"], ["report", "--days", "30", "--json"],
        ["stale", "--json"], ["failed", "--hours", "24", "--json"], ["cleanup", "--dry-run", "--days", "30", "--json"],
    ]
    print("\nCLI wall time (one process each, start-up included):")
    for args in commands:
        start = time.perf_counter()
        out = subprocess.run(
            [sc, "--db", f"sqlite:///{path}", "monitor", *args], capture_output=True, text=True, check=False
        )
        took = time.perf_counter() - start
        print(f"  sc monitor {' '.join(args):<36} {took:.3f}s  exit {out.returncode}")


def mongo_plans(url: str) -> None:
    from sccli.store.mongo_stats import leading_index

    store = open_store(url, "bench_monitor_plans")
    store.ensure_schema()
    indexes = store.coll("jobs").index_information()  # type: ignore[attr-defined]
    print(f"\nMongoDB pipelines on {store.display_url}:")
    for name, (key, pipeline) in store.stats.monitor_pipelines(utcnow()).items():  # type: ignore[attr-defined]
        plan = explain_stage(store, key, pipeline) or (
            "no explain here; opening $match uses index " + repr(leading_index(pipeline, indexes))
        )
        print(f"  {name:<15} {plan}")


def explain_stage(store: Any, key: str, pipeline: list[dict[str, Any]]) -> str | None:
    """The winning plan's first scan per ``explain``, or None where the server has no explain
    (mongomock raises; the wire test server ignores the flag and just runs the pipeline)."""
    try:
        plan = store.db.command("aggregate", store.names[key], pipeline=pipeline, explain=True)
    except Exception:
        return None
    text = json.dumps(plan, default=str)
    if "queryPlanner" not in text and "stages" not in text:
        return None
    for stage in ("IXSCAN", "COLLSCAN", "COUNT_SCAN", "DISTINCT_SCAN"):
        if stage in text:
            at = text.index(stage)
            return f"explain: {text[at:at + 200]}"
    return "explain: " + text[:200]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="SQLite file to fill (kept); default: a temporary file")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--mongo", default=os.environ.get("SC_TEST_MONGO_URL", "mongomock://bench"),
        help="MongoDB URL for the plan check",
    )
    args = parser.parse_args()
    mongo_plans(args.mongo)
    if args.mongo != "mongomock://bench":
        mongo_plans("mongomock://bench")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_bench(args.db or Path(tmp) / "bench.db", args.jobs, args.runs)


if __name__ == "__main__":
    main()
