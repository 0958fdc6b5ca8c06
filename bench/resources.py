"""The cost of measuring and limiting jobs' resources, through a running service (run by hand).

    .venv/bin/python bench/resources.py [--jobs 1000] [--rounds 3] [--samples 2000]

1. throughput of trivial jobs (``bench/throughput.py``'s round: queued while paused, then
   resumed) with no memory limit and with ``memory_limit_mb`` set (every running job's tree
   sampled by the service every ``memory_check_seconds``, 0.25 s), interleaved per round;
   medians of jobs/s and CPU ms per job (service + template + forker + children). Every job's
   ``resources`` entry (the forker's ``wait4`` and ``/proc/self/io`` reads) is recorded in both.
2. one sample of the watchdog (:func:`sccli.service.resources.tree_rss_bytes` of this process,
   which walks /proc): median and p99 in microseconds, with the number of processes on the host.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import throughput  # noqa: E402 - bench/ is on the path only now


def limited(settings: Path, limit_mb: int | None) -> Path:
    data = json.loads(settings.read_text())
    if limit_mb is not None:
        data["memory_limit_mb"] = limit_mb
    path = settings.with_name(f"{settings.stem}-limit-{limit_mb}.json")
    path.write_text(json.dumps(data))
    return path


def sample_cost(samples: int) -> None:
    from sccli.service.procs import process_table
    from sccli.service.resources import tree_rss_bytes

    times = []
    for _ in range(samples):
        start = time.perf_counter()
        tree_rss_bytes(os.getpid())
        times.append(time.perf_counter() - start)
    times.sort()
    p99 = times[int(0.99 * (len(times) - 1))]
    print(f"watchdog sample: median {1e6 * statistics.median(times):.0f} µs, p99 {1e6 * p99:.0f} µs "
          f"({len(process_table())} processes on the host)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    from sccli.queue import JobQueue
    from sccli.store import open_store

    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {args.workers} workers, SQLite")
    sample_cost(args.samples)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        db = f"sqlite:///{tmp / 'bench.db'}"
        queue = JobQueue(open_store(db), extra_types={"noop": "", "sleeper": ""})
        base = throughput.write_settings(tmp, args.workers, 0.1)
        runs: dict[str, list[dict[str, float]]] = {"no limit": [], "memory_limit_mb 4096": []}
        for _ in range(args.rounds):
            for name, limit in (("no limit", None), ("memory_limit_mb 4096", 4096)):
                print(f"-- {name}")
                runs[name].append(throughput.bench_throughput(queue, db, limited(base, limit), args.jobs))
        for name, rounds in runs.items():
            print(f"{name}: median of {len(rounds)}: {statistics.median(r['jobs_per_s'] for r in rounds):.0f} jobs/s, "
                  f"CPU {statistics.median(r['cpu_ms'] for r in rounds):.2f} ms/job")


if __name__ == "__main__":
    main()
