"""Claims + completions per second on SQLite, in 1 and 4 processes (run by hand).

    .venv/bin/python bench/claims.py [--jobs 5000]
    .venv/bin/python bench/claims.py --scheduled [--url URL]   # claim time behind 0 / 10,000 / 100,000 scheduled jobs

Target: >= 1,000 claim+complete per second in one process; with --scheduled, a claim's time that
does not grow with the scheduled backlog (the same backlog left ``pending`` with a future
``run_after``, as before the ``scheduled`` state, is shown for contrast).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sccli.queue import JobQueue
from sccli.store import open_store
from sccli.store.base import Store


def fill(url: str, jobs: int) -> None:
    store = open_store(url)
    queue = JobQueue(store)
    for _ in range(jobs):
        store.insert_job(queue.build_job(str(uuid.uuid4()), "data_validation", {}, None, None, None))
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


def backlog(store: Store, waiting: int, status: str) -> None:
    """``waiting`` high-priority jobs created earlier that may start only tomorrow, in ``status``."""
    queue = JobQueue(store)
    earlier, tomorrow = store.now() - timedelta(hours=1), store.now() + timedelta(days=1)
    for start in range(0, waiting, 5000):
        docs = []
        for _ in range(min(5000, waiting - start)):
            doc = queue.build_job(
                str(uuid.uuid4()), "data_validation", None, 1, None, None, allow_duplicate=True, run_at=tomorrow
            )
            docs.append({**doc, "status": status, "created_at": earlier, "run_after": tomorrow})
        if hasattr(store, "coll"):
            store.coll("jobs").insert_many(docs)  # type: ignore[attr-defined]
            continue
        with store.atomic():
            for doc in docs:
                store.insert_job(doc)


def claim_times(url: str | None, waiting: int, status: str, ready: int) -> list[float]:
    """Seconds per claim of ``ready`` jobs (each completed) behind ``waiting`` jobs in ``status``."""
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(url or f"sqlite:///{Path(tmp) / 'bench.db'}", f"bench_{uuid.uuid4().hex[:8]}")
        store.ensure_schema()
        backlog(store, waiting, status)
        queue = JobQueue(store, actor="worker:bench:1")
        for _ in range(ready):
            store.insert_job(
                queue.build_job(str(uuid.uuid4()), "data_validation", None, 3, None, None, allow_duplicate=True)
            )
        times = []
        while True:
            start = time.perf_counter()
            job = queue.claim_next("w1")
            times.append(time.perf_counter() - start)
            if job is None:
                break
            queue.complete(job["job_id"], job["lease_token"], {"ok": True})
        if url and hasattr(store, "client"):
            store.client.drop_database(store.db_name)  # type: ignore[attr-defined]
        store.close()
        return times[:-1]


def scheduled(url: str | None, ready: int) -> None:
    for waiting in (0, 10_000, 100_000):
        for status in ("scheduled", "pending"):
            if status == "pending" and waiting == 0:
                continue
            times = sorted(claim_times(url, waiting, status, ready))
            mean = statistics.fmean(times) * 1000
            what = "scheduled" if status == "scheduled" else "pending, future run_after (before)"
            print(
                f"{waiting:>7,} {what:36} claim: mean {mean:7.3f} ms  p95 {times[int(len(times) * 0.95)] * 1000:7.3f} "
                f"ms  ({len(times)} claims)"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument(
        "--scheduled", action="store_true", help="claim time behind 0 / 10,000 / 100,000 scheduled jobs"
    )
    parser.add_argument("--url", default=None, help="store URL for --scheduled (default: a temporary SQLite file)")
    parser.add_argument("--ready", type=int, default=200, help="ready jobs claimed per backlog size (--scheduled)")
    args = parser.parse_args()
    if args.scheduled:
        scheduled(args.url, args.ready)
        return
    for processes in (1, 4):
        rate = run(processes, args.jobs)
        print(f"sqlite  {processes} process(es): {rate:8.0f} claim+complete/s  ({args.jobs} jobs)")


if __name__ == "__main__":
    main()
