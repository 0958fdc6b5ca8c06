"""Claims + completions per second on SQLite, in 1 and 4 processes (run by hand).

    .venv/bin/python bench/claims.py [--jobs 5000]

Target: >= 1,000 claim+complete per second in one process.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
import uuid
from pathlib import Path

from sccli.queue import JobQueue
from sccli.store import open_store


def fill(url: str, jobs: int) -> None:
    store = open_store(url)
    queue = JobQueue(store)
    for i in range(jobs):
        store.insert_job(queue.build_job(str(uuid.uuid4()), "data_validation", {"i": i}, None, None, None))
    store.close()


def drain(url: str, worker: str, counter: mp.Value) -> None:  # type: ignore[valid-type]
    queue = JobQueue(open_store(url), actor=f"worker:bench:{worker}")
    done = 0
    while (job := queue.claim_next(worker)) is not None:
        queue.complete(job["job_id"], job["lease_token"], {"ok": True})
        done += 1
    with counter.get_lock():
        counter.value += done


def run(processes: int, jobs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        fill(url, jobs)
        ctx = mp.get_context("fork")
        counter = ctx.Value("i", 0)
        procs = [ctx.Process(target=drain, args=(url, f"w{i}", counter)) for i in range(processes)]
        start = time.perf_counter()
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        elapsed = time.perf_counter() - start
        assert counter.value == jobs, (counter.value, jobs)
        return jobs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=5000)
    args = parser.parse_args()
    for processes in (1, 4):
        rate = run(processes, args.jobs)
        print(f"sqlite  {processes} process(es): {rate:8.0f} claim+complete/s  ({args.jobs} jobs)")


if __name__ == "__main__":
    main()
