"""One system, one round of the peers bench; run by ``bench/peers.py`` in the interpreter that has
the system (the project's ``.venv`` for sccli, the bench venv for RQ and Huey).

    python bench/peers_driver.py SYSTEM --out FILE.json [--jobs N] [--gaps JSON] [--idle S]
                                 [--redis-url URL --redis-pid PID] [--workdir DIR]

1. throughput: N ``noop`` jobs enqueued while no worker runs, then 2 workers started; the done
   count is read every 10 ms; jobs/s from the first job done to the last (and from the workers'
   start, start-up included); CPU per job = user+sys of the worker process tree (children reaped
   by their parents included) over the same span, divided by the jobs done in it;
2. idle cost: CPU % of the worker tree (and of redis-server) over ``--idle`` seconds, then the
   RSS and PSS of the worker processes;
3. pickup: for each gap (seconds, count), sleep the gap, enqueue one ``mark`` job and wait for
   its datagram: latency = the handler's first ``time.time()`` − the time just before enqueueing.
Every wait has a timeout; the workers are stopped in ``finally`` (also on SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import peers_systems


def tree(roots: list[Any]) -> list[Any]:
    """The root processes and all their live descendants."""
    import psutil

    procs = []
    for root in roots:
        try:
            procs.append(root)
            procs.extend(root.children(recursive=True))
        except psutil.Error:
            continue
    return procs


def tree_cpu(roots: list[Any]) -> float:
    """Seconds of CPU of the processes (all their live threads) and of the children they reaped."""
    import psutil

    total = 0.0
    for proc in tree(roots):
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        own = task_cpu([proc])
        total += (own if own else t.user + t.system) + t.children_user + t.children_system
    return total


def task_cpu(procs: list[Any]) -> float:
    """Seconds of CPU of the processes' live threads from ``/proc/PID/task/TID/schedstat``
    (nanoseconds, where ``cpu_times`` counts 10 ms ticks: short spans need the finer clock)."""
    total = 0
    for proc in procs:
        try:
            for tid in os.listdir(f"/proc/{proc.pid}/task"):
                with open(f"/proc/{proc.pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


def memory(roots: list[Any]) -> tuple[float, float]:
    """(RSS, PSS) of the processes summed, in MiB (PSS splits pages a fork shares)."""
    import psutil

    rss = pss = 0.0
    for proc in tree(roots):
        try:
            info = proc.memory_full_info()
        except psutil.Error:
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return rss / 2**20, pss / 2**20


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (the value at rank ⌈q·n⌉)."""
    import math

    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def measure_throughput(system: Any, jobs: int, broker: Any, timeout: float) -> dict[str, Any]:
    system.enqueue_noops(jobs)
    started = time.monotonic()
    system.start_workers()
    first: tuple[float, int, float, float] | None = None
    deadline = started + timeout
    done = 0
    while time.monotonic() < deadline:
        done = system.done_count()
        now = time.monotonic()
        if done and first is None:
            first = (now, done, tree_cpu(system.roots()), broker_cpu(broker))
        if done >= jobs:
            break
        time.sleep(0.01)
    else:
        raise TimeoutError(f"{system.name}: {done}/{jobs} jobs done after {timeout:.0f} s")
    end = time.monotonic()
    cpu, bcpu = tree_cpu(system.roots()), broker_cpu(broker)
    assert first is not None
    span, counted = max(end - first[0], 1e-6), max(jobs - first[1], 1)
    return {
        "jobs": jobs, "failed": system.failed_count(),
        "jobs_per_s": counted / span, "jobs_per_s_wall": jobs / (end - started),
        "cpu_ms_per_job": (cpu - first[2]) / counted * 1000,
        "broker_cpu_ms_per_job": (bcpu - first[3]) / counted * 1000 if broker else None,
    }


def broker_cpu(broker: Any) -> float:
    return task_cpu([broker]) if broker is not None else 0.0


def measure_idle(system: Any, seconds: float, broker: Any) -> dict[str, Any]:
    brokers = [broker] if broker else []
    cpu0, b0, t0 = tree_cpu(system.roots()), task_cpu(brokers), time.monotonic()
    time.sleep(seconds)
    cpu1, b1, t1 = tree_cpu(system.roots()), task_cpu(brokers), time.monotonic()
    rss, pss = memory(system.roots())
    return {
        "idle_cpu_pct": (cpu1 - cpu0) / (t1 - t0) * 100,
        "broker_idle_cpu_pct": (b1 - b0) / (t1 - t0) * 100 if broker else None,
        "rss_mb": rss, "pss_mb": pss, "processes": len(tree(system.roots())),
    }


def measure_pickup(system: Any, gaps: list[tuple[float, int]], timeout: float = 60.0) -> dict[str, Any]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    out: dict[str, Any] = {}
    try:
        for gap, count in gaps:
            latencies, lost = [], 0
            for _ in range(count):
                time.sleep(gap)
                token = uuid.uuid4().hex
                before = time.time()
                system.enqueue_mark(port, token)
                started = wait_datagram(sock, token, timeout)
                if started is None:
                    lost += 1
                else:
                    latencies.append((started - before) * 1000)
            out[f"{gap:g}"] = {
                "samples": len(latencies), "lost": lost,
                "p50_ms": percentile(latencies, 0.5) if latencies else None,
                "p99_ms": percentile(latencies, 0.99) if latencies else None,
                "max_ms": max(latencies) if latencies else None,
            }
            print(f"  {system.name}: pickup after {gap:g} s: {out[f'{gap:g}']}", file=sys.stderr, flush=True)
    finally:
        sock.close()
    return out


def warm_up(system: Any, timeout: float = 60.0) -> float:
    """Start the workers and wait for one ``mark`` job to start; seconds from start to it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        started = time.time()
        system.start_workers()
        token = uuid.uuid4().hex
        system.enqueue_mark(sock.getsockname()[1], token)
        if wait_datagram(sock, token, timeout) is None:
            raise TimeoutError(f"{system.name}: the workers ran no job within {timeout:.0f} s of their start")
    return time.time() - started


def wait_datagram(sock: socket.socket, token: str, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            data = sock.recv(256).decode().split()
        except TimeoutError:
            return None
        if len(data) == 2 and data[0] == token:
            return float(data[1])
    return None


def _stop_on_term(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("system", choices=sorted(peers_systems.SYSTEMS))
    parser.add_argument("--out", required=True)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--gaps", default='[[0.05, 20], [1, 5]]', help="JSON list of [seconds, count]")
    parser.add_argument("--idle", type=float, default=20.0)
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--redis-pid", type=int, default=0)
    parser.add_argument("--workdir", default="/tmp/sc-bench-peers/run")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _stop_on_term)
    import psutil

    broker = psutil.Process(args.redis_pid) if args.redis_pid else None
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    system = peers_systems.SYSTEMS[args.system](workdir, args.redis_url)
    result: dict[str, Any] = {"system": args.system, "describe": system.describe}
    try:
        system.reset()
        if args.jobs:
            result |= measure_throughput(system, args.jobs, broker, timeout=max(180.0, args.jobs / 5))
            print(f"  {args.system}: {result['jobs_per_s']:.0f} jobs/s, {result['cpu_ms_per_job']:.2f} ms CPU/job",
                  file=sys.stderr, flush=True)
        else:
            result["first_job_s"] = warm_up(system)
        time.sleep(2.0)  # let the last completions and any post-burst housekeeping settle
        result |= measure_idle(system, args.idle, broker)
        result["pickup"] = measure_pickup(system, [(float(g), int(n)) for g, n in json.loads(args.gaps)])
    finally:
        system.stop_workers()
    Path(args.out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
