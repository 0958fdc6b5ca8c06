"""Service throughput, pickup latency, cancel latency and idle cost, on SQLite (run by hand).

    .venv/bin/python bench/throughput.py [--jobs 1000] [--workers 2] [--poll 0.1]

1. throughput: N trivial jobs queued, then one `sc service run --until-idle` with W workers, one
   process per job; jobs/s from the first start to the last completion (and wall time with start-up);
2. pickup latency on an idle service: jobs created one at a time, creation → start, p50/p99;
3. cancel latency: a running job cancelled, request → cancelled, p50/max;
4. idle cost: CPU % and RSS (psutil) of the service and its template process while idle, at the
   bench's poll interval (default: the settings default, 0.1 s) and at 1 s.
Targets (issue 3): ≥ 100 jobs/s, pickup p50 < 100 ms and p99 < 500 ms, idle < 1 % CPU and < 80 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def noop(ctx: Any) -> dict[str, Any]:
    """The trivial job (registered as the plugin type ``noop``)."""
    return {"status": "ok", "message": "noop"}


def sleeper(ctx: Any) -> dict[str, Any]:
    """A job that runs until it is cancelled."""
    while True:
        time.sleep(0.05)


def write_settings(tmp: Path, workers: int, poll: float) -> Path:
    dirs = {key: str(tmp / key) for key in ("in_data_dir", "out_data_dir", "sync_data_dir", "auth_dir")}
    for path in dirs.values():
        Path(path).mkdir(exist_ok=True)
    settings = {
        **dirs, "log_dir": str(tmp / "logs"), "workers": workers, "poll_interval_seconds": poll,
        "heartbeat_seconds": 2.0, "handlers": {"noop": "throughput:noop", "sleeper": "throughput:sleeper"},
        "retry_base_seconds": 0, "kill_grace_seconds": 0.5,
    }
    path = tmp / f"settings-{workers}-{poll}.json"
    path.write_text(json.dumps(settings))
    return path


def start_service(db: str, settings: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "sccli", "--db", db, "service", "run", str(settings), *args]
    return subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def bench_throughput(queue: Any, db: str, settings: Path, jobs: int) -> None:
    from sccli.store.base import JobQuery

    dataset = "00000000-0000-4000-8000-000000000000"
    for _ in range(jobs):
        queue.create_job(dataset, "noop", allow_missing_dataset=True, allow_duplicate=True)
    started = time.monotonic()
    proc = start_service(db, settings, "--until-idle")
    proc.wait(600)
    wall = time.monotonic() - started
    done = queue.store.find_jobs(JobQuery(status=["completed"]), limit=None)
    first = min(j["started_at"] for j in done)
    last = max(j["completed_at"] for j in done)
    span = (last - first).total_seconds()
    print(f"throughput: {len(done)}/{jobs} completed; {len(done) / span:.0f} jobs/s from first start to last completion "
          f"({span:.2f}s); {len(done) / wall:.0f} jobs/s wall including service start-up ({wall:.2f}s)")
    queue.store.delete_jobs(JobQuery())


def wait_status(queue: Any, job_id: str, statuses: tuple[str, ...], timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = queue.get_job(job_id)
        if job["status"] in statuses:
            return job  # type: ignore[no-any-return]
        time.sleep(0.005)
    raise TimeoutError(job_id)


def bench_pickup(queue: Any, samples: int) -> None:
    import random

    latencies = []
    for _ in range(samples):
        time.sleep(random.uniform(0.05, 0.15))  # the service is idle, somewhere in its poll cycle
        job_id = queue.create_job("00000000-0000-4000-8000-000000000000", "noop", allow_missing_dataset=True, allow_duplicate=True)
        job = wait_status(queue, job_id, ("completed", "failed"))
        latencies.append((job["started_at"] - job["created_at"]).total_seconds() * 1000)
    print(f"pickup latency (creation → start), {samples} jobs on an idle service: p50 {percentile(latencies, 0.5):.0f} ms, "
          f"p99 {percentile(latencies, 0.99):.0f} ms, max {max(latencies):.0f} ms")


def bench_cancel(queue: Any, samples: int) -> None:
    latencies = []
    for _ in range(samples):
        job_id = queue.create_job("00000000-0000-4000-8000-000000000000", "sleeper", allow_missing_dataset=True, allow_duplicate=True)
        wait_status(queue, job_id, ("running",))
        time.sleep(0.2)
        asked = time.monotonic()
        queue.cancel(job_id, reason="bench")
        wait_status(queue, job_id, ("cancelled",))
        latencies.append((time.monotonic() - asked) * 1000)
    print(f"cancel latency (request → cancelled), {samples} jobs: p50 {statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms")


def idle_cost(pid: int, seconds: float) -> str:
    import psutil

    service = psutil.Process(pid)
    procs = [service, *service.children()]
    for p in procs:
        p.cpu_percent(None)
    time.sleep(seconds)
    parts = []
    for p, name in zip(procs, ["service", "template"], strict=False):
        parts.append(f"{name} {p.cpu_percent(None):.2f} % CPU, {p.memory_info().rss / 2**20:.0f} MB RSS")
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--poll", type=float, default=0.1, help="poll_interval_seconds of the service under test")
    parser.add_argument("--samples", type=int, default=200, help="jobs for the pickup latency")
    args = parser.parse_args()
    from sccli.queue import JobQueue
    from sccli.store import open_store

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        db = f"sqlite:///{tmp / 'bench.db'}"
        queue = JobQueue(open_store(db), extra_types={"noop": "", "sleeper": ""})
        settings = write_settings(tmp, args.workers, args.poll)
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {args.workers} workers, poll {args.poll}s, SQLite")
        bench_throughput(queue, db, settings, args.jobs)
        service = start_service(db, settings)
        try:
            time.sleep(1.5)
            print(f"idle at poll {args.poll}s: {idle_cost(service.pid, 10)}")
            bench_pickup(queue, args.samples)
            bench_cancel(queue, 5)
        finally:
            service.terminate()
            service.wait(30)
        service = start_service(db, write_settings(tmp, args.workers, 1.0))
        try:
            time.sleep(1.5)
            print(f"idle at poll 1.0s: {idle_cost(service.pid, 10)}")
        finally:
            service.terminate()
            service.wait(30)


if __name__ == "__main__":
    main()
