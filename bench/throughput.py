"""Service throughput, CPU and page faults per job, pickup and cancel latency, idle cost and RSS
over a long run, on SQLite (run by hand).

    .venv/bin/python bench/throughput.py [--jobs 1000] [--workers 2] [--poll 0.1] [--samples 200]
    .venv/bin/python bench/throughput.py --only throughput [--jobs 2000] [--rounds 3] [--metrics-port 9464]
    .venv/bin/python bench/throughput.py --rss 100000 [--every 5000]
    .venv/bin/python bench/throughput.py --only throughput --rounds 3 --ab /work/wt-base   # this checkout vs another

1. throughput: N trivial jobs queued while the queue is paused, a service started and settled,
   then the queue resumed: jobs/s from the first start to the last completion, and CPU and minor
   page faults per job of the service, its template and the job children (read from /proc:
   the template's ``cutime``/``cminflt`` hold its reaped children);
2. pickup latency on an idle service: jobs created one at a time, creation → start, p50/p99;
3. cancel latency: a running job cancelled, request → cancelled, p50/max;
4. idle cost: CPU % and RSS (psutil) of the service and its template process while idle, at the
   bench's poll interval (default: the settings default, 0.1 s) and at 1 s.
5. ``--rss N``: one service runs N trivial jobs (fed in batches), the RSS of the service and its
   template printed every ``--every`` jobs.
Targets (issue 15): ≥ 500 jobs/s at ≤ 2.5 ms CPU per job (2 workers); RSS flat over 100,000 jobs.
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


#: Extra ``sc service run`` options of every service the bench starts (``--metrics-port``: with its metrics).
SERVICE_ARGS: list[str] = []


def start_service(db: str, settings: Path, *args: str, root: Path = ROOT) -> subprocess.Popen[bytes]:
    """``sc service run`` of the checkout at ``root``; its log (stderr) goes to ``service.log``
    beside the settings, as a real one would."""
    args = (*args, *SERVICE_ARGS)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root / "bench"), str(root), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "sccli", "--db", db, "service", "run", str(settings), *args]
    with (settings.parent / "service.log").open("ab") as log:
        # cwd: ``python -m`` puts it first on sys.path, before PYTHONPATH
        return subprocess.Popen(cmd, env=env, stderr=log, stdout=subprocess.DEVNULL, cwd=root)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


DATASET = "00000000-0000-4000-8000-000000000000"
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def enqueue(queue: Any, jobs: int, job_type: str = "noop") -> None:
    """``jobs`` trivial jobs with their creation events, in one transaction per thousand."""
    store = queue.store
    for start in range(0, jobs, 1000):
        with store.atomic():
            for _ in range(min(1000, jobs - start)):
                doc = queue.build_job(DATASET, job_type, None, None, None, None, allow_duplicate=True)
                event = {
                    "entity": "job", "job_id": doc["job_id"], "from": None, "to": "pending", "at": doc["created_at"],
                    "actor": "bench", "reason": "created",
                }
                store.insert_job(doc, event)


def proc_stat(pid: int) -> dict[str, float]:
    """CPU seconds and minor faults of ``pid``, itself and its reaped children, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    value = {
        name: int(fields[index - 3])
        for name, index in (
            ("minflt", 10), ("cminflt", 11), ("utime", 14), ("stime", 15), ("cutime", 16), ("cstime", 17),
        )
    }
    return {
        "cpu": (value["utime"] + value["stime"]) / CLOCK_TICK,
        "child_cpu": (value["cutime"] + value["cstime"]) / CLOCK_TICK, "minflt": value["minflt"],
        "cminflt": value["cminflt"], "sys": value["stime"] / CLOCK_TICK,
    }


def service_sample(pid: int, forker: int | None = None) -> dict[str, float]:
    """CPU and faults of the service, its template, the template's forker and the job children
    (reaped by the forker; orphans reaped by the template count as children too). ``forker``:
    its pid as found before (None: the template's only child now, taken while no job runs)."""
    import psutil

    none = {"cpu": 0.0, "child_cpu": 0.0, "minflt": 0, "cminflt": 0}
    templates = psutil.Process(pid).children()
    template = proc_stat(templates[0].pid) if templates else none
    if forker is None:
        forker = next((p.pid for p in templates[0].children()), 0) if templates else 0
    forks = proc_stat(forker) if forker else none
    service = proc_stat(pid)
    return {
        "service": service["cpu"], "service_sys": service["sys"], "template": template["cpu"] + forks["cpu"],
        "children": forks["child_cpu"] + template["child_cpu"], "service_faults": service["minflt"],
        "template_faults": template["minflt"] + forks["minflt"], "child_faults": forks["cminflt"] + template["cminflt"],
        "forker": forker,
    }


def wait_settled(queue: Any, service: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Until the service is registered and its template process runs, then a second more."""
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (
            any(w.get("pid") == service.pid for w in queue.store.list_workers())
            and psutil.Process(service.pid).children()
        ):
            time.sleep(1.0)
            return
        time.sleep(0.05)
    raise TimeoutError("the service did not start")


def count_done(queue: Any) -> int:
    from sccli.store.base import JobQuery

    return queue.store.count_jobs(JobQuery(status=["completed", "failed"]))


def bench_throughput(queue: Any, db: str, settings: Path, jobs: int, root: Path = ROOT) -> dict[str, float]:
    """One measured round of the service of the checkout at ``root``: jobs/s, CPU ms and faults
    per job (see the module's docstring)."""
    from sccli.pause import pause_types, resume_types
    from sccli.store.base import JobQuery

    pause_types(queue.store, ["noop"], "bench", "bench")
    enqueue(queue, jobs)
    service = start_service(db, settings, root=root)
    try:
        wait_settled(queue, service)
        before = service_sample(service.pid)
        resume_types(queue.store, ["noop"], "bench")
        while count_done(queue) < jobs:
            time.sleep(0.01)
        after = service_sample(service.pid, int(before["forker"]))
    finally:
        service.terminate()
        service.wait(60)
    done = queue.store.find_jobs(JobQuery(status=["completed"]), limit=None)
    span = (max(j["completed_at"] for j in done) - min(j["started_at"] for j in done)).total_seconds()
    delta = {key: after[key] - before[key] for key in after if key != "forker"}
    figures = {
        "completed": len(done), "jobs_per_s": len(done) / span, "span": span,
        "cpu_ms": 1000 * (delta["service"] + delta["template"] + delta["children"]) / jobs,
        **{f"{key}_ms": 1000 * delta[key] / jobs for key in ("service", "service_sys", "template", "children")},
        **{f"{key}_per_job": delta[key] / jobs for key in ("service_faults", "template_faults", "child_faults")},
    }
    print(
        f"throughput: {len(done)}/{jobs} completed; {figures['jobs_per_s']:.0f} jobs/s ({span:.2f}s first "
        "start → last completion); "
        f"CPU {figures['cpu_ms']:.2f} ms/job (service {figures['service_ms']:.2f} of which system "
        f"{figures['service_sys_ms']:.2f}, template+forker {figures['template_ms']:.2f}, "
        f"children {figures['children_ms']:.2f}); minor faults/job: child {figures['child_faults_per_job']:.0f}, "
        f"template+forker {figures['template_faults_per_job']:.0f}, service {figures['service_faults_per_job']:.0f}; "
        f"load {os.getloadavg()[0]:.1f}"
    )
    queue.store.delete_jobs(JobQuery())
    return figures


def bench_rss(queue: Any, db: str, settings: Path, jobs: int, every: int) -> None:
    """One service over ``jobs`` trivial jobs, fed ``every`` at a time; RSS after each batch."""
    import psutil

    service = start_service(db, settings)
    try:
        wait_settled(queue, service)
        proc = psutil.Process(service.pid)
        template = proc.children()[0]
        started, done = time.monotonic(), 0
        enqueue(queue, min(every, jobs))
        queued = min(every, jobs)
        rows = []
        while done < jobs:
            if queued < jobs and queued - count_done(queue) < every // 2:  # keep the queue fed
                enqueue(queue, min(every, jobs - queued))
                queued += min(every, jobs - queued)
            time.sleep(0.2)
            now_done = count_done(queue)
            if now_done // every > done // every or now_done >= jobs:
                rss = (proc.memory_info().rss / 2**20, template.memory_info().rss / 2**20)
                rows.append(rss)
                print(
                    f"  {now_done:>7} jobs  {time.monotonic() - started:6.0f}s  service RSS {rss[0]:6.1f} MB  template "
                    f"RSS {rss[1]:5.1f} MB"
                    f"  load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
            done = now_done
        first, last = rows[0], rows[-1]
        print(f"RSS over {jobs} jobs: service {first[0]:.1f} → {last[0]:.1f} MB (max {max(r[0] for r in rows):.1f}), "
              f"template {first[1]:.1f} → {last[1]:.1f} MB (max {max(r[1] for r in rows):.1f})")
    finally:
        service.terminate()
        service.wait(60)


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
        job_id = queue.create_job(
            "00000000-0000-4000-8000-000000000000", "noop", allow_missing_dataset=True, allow_duplicate=True
        )
        job = wait_status(queue, job_id, ("completed", "failed"))
        latencies.append((job["started_at"] - job["created_at"]).total_seconds() * 1000)
    print(
        f"pickup latency (creation → start), {samples} jobs on an idle service: p50 "
        f"{percentile(latencies, 0.5):.0f} ms, "
        f"p99 {percentile(latencies, 0.99):.0f} ms, max {max(latencies):.0f} ms"
    )


def bench_cancel(queue: Any, samples: int) -> None:
    latencies = []
    for _ in range(samples):
        job_id = queue.create_job(
            "00000000-0000-4000-8000-000000000000", "sleeper", allow_missing_dataset=True, allow_duplicate=True
        )
        wait_status(queue, job_id, ("running",))
        time.sleep(0.2)
        asked = time.monotonic()
        queue.cancel(job_id, reason="bench")
        wait_status(queue, job_id, ("cancelled",))
        latencies.append((time.monotonic() - asked) * 1000)
    print(
        f"cancel latency (request → cancelled), {samples} jobs: p50 {statistics.median(latencies):.0f} ms, max "
        f"{max(latencies):.0f} ms"
    )


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
    parser.add_argument("--only", choices=["throughput"], help="only the throughput rounds")
    parser.add_argument("--rounds", type=int, default=1, help="throughput rounds (medians printed when more than one)")
    parser.add_argument("--rss", type=int, metavar="N", help="only the RSS run, over N jobs")
    parser.add_argument("--every", type=int, default=5000, help="jobs between RSS samples (--rss)")
    parser.add_argument("--metrics-port", type=int, help="run the services with their Prometheus metrics on this port")
    parser.add_argument("--ab", type=Path, metavar="PATH", help="with --only throughput: rounds alternate between this "
                        "checkout's service and the one at PATH (A/B/B/A…), medians of each")
    args = parser.parse_args()
    if args.metrics_port:
        SERVICE_ARGS.extend(["--metrics-port", str(args.metrics_port)])
    from sccli.queue import JobQueue
    from sccli.store import open_store

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        db = f"sqlite:///{tmp / 'bench.db'}"
        queue = JobQueue(open_store(db), extra_types={"noop": "", "sleeper": ""})
        settings = write_settings(tmp, args.workers, args.poll)
        print(
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {args.workers} workers, "
            f"poll {args.poll}s, SQLite"
        )
        if args.rss:
            bench_rss(queue, db, settings, args.rss, args.every)
            return
        if args.ab:
            bench_ab(queue, db, settings, args.jobs, args.rounds, args.ab.resolve())
            return
        rounds = [bench_throughput(queue, db, settings, args.jobs) for _ in range(args.rounds)]
        if len(rounds) > 1:
            med = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
            print(f"median of {len(rounds)}: {med['jobs_per_s']:.0f} jobs/s, CPU {med['cpu_ms']:.2f} ms/job, "
                  f"child faults {med['child_faults_per_job']:.0f}/job")
        if args.only:
            return
        bench_latency_and_idle(queue, db, tmp, settings, args)


def bench_ab(queue: Any, db: str, settings: Path, jobs: int, rounds: int, other: Path) -> None:
    """Rounds alternating between this checkout (A) and ``other`` (B), so both meet the same load;
    the medians of each and B ÷ A."""
    runs: dict[Path, list[dict[str, float]]] = {ROOT: [], other: []}
    for number in range(rounds):
        for root in (ROOT, other) if number % 2 == 0 else (other, ROOT):
            print(f"round {number + 1}, {'A' if root == ROOT else 'B'} ({root}):", end=" ")
            runs[root].append(bench_throughput(queue, db, settings, jobs, root=root))
    med = {root: {key: statistics.median(r[key] for r in rows) for key in rows[0]} for root, rows in runs.items()}
    for root, name in ((ROOT, "A"), (other, "B")):
        m = med[root]
        print(f"median {name} of {rounds}: {m['jobs_per_s']:.0f} jobs/s, CPU {m['cpu_ms']:.2f} ms/job (service "
              f"{m['service_ms']:.2f}, template+forker {m['template_ms']:.2f}, children {m['children_ms']:.2f}), "
              f"child faults {m['child_faults_per_job']:.0f}/job")
    print(f"B ÷ A: CPU/job {med[other]['cpu_ms'] / med[ROOT]['cpu_ms']:.2f}×, "
          f"jobs/s {med[other]['jobs_per_s'] / med[ROOT]['jobs_per_s']:.2f}×")


def bench_latency_and_idle(queue: Any, db: str, tmp: Path, settings: Path, args: Any) -> None:
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
