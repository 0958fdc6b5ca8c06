"""sccli against RQ and Huey on the same trivial job, 2 workers each (run by hand).

    .venv/bin/python bench/peers.py [--jobs 1000] [--rounds 2] [--quick] [--json]
                                    [--systems sccli,rq,huey-redis,huey-sqlite] [--idle 20]

Installs RQ, Huey, redis-py and psutil into a venv of its own (``/tmp/sc-bench-peers/venv``,
never the project's ``.venv``) and redis-server from apt when root and it is missing; a peer
that cannot be set up is skipped with the reason printed. Starts one redis-server on a free
loopback port without persistence, then runs the systems in turn, round after round (A/B/A/B),
each in a driver process of its own (``bench/peers_driver.py``): throughput and CPU per job over
N jobs, idle CPU and memory, pickup latency p50/p99 after gaps of 50 ms, 1 s, 10 s and 60 s
(``--quick``: 300 jobs, gaps of 50 ms, 1 s and 10 s, a 5 s idle window). Prints one table, a row
per figure (medians over the rounds), a column per system and the ratios sccli ÷ peer; ``--json``
prints everything measured instead. Everything it starts is stopped at the end, on Ctrl-C too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import peers_env  # noqa: E402 - bench/ is not a package

ALL_SYSTEMS = ("sccli", "rq", "huey-redis", "huey-sqlite")
NEEDS_REDIS = frozenset({"rq", "huey-redis"})
FULL_GAPS = [[0.05, 50], [1, 20], [10, 5], [60, 2]]
QUICK_GAPS = [[0.05, 20], [1, 5], [10, 2]]
STOP_GRACE = 45.0
NO_RATIO = frozenset({"processes"})


def gap_label(gap: float) -> str:
    return f"{gap:g} s idle" if gap >= 60 else f"gap {gap * 1000:g} ms" if gap < 1 else f"gap {gap:g} s"


def figures(gaps: list[list[float]]) -> list[tuple[str, str, Any]]:
    """(key, label, how to read it from one run's result) for every row of the table."""
    rows: list[tuple[str, str, Any]] = [
        ("jobs_per_s", "throughput, jobs/s (first done → last)", lambda r: r.get("jobs_per_s")),
        ("jobs_per_s_wall", "throughput, jobs/s from worker start", lambda r: r.get("jobs_per_s_wall")),
        ("cpu_ms_per_job", "CPU per job, ms (workers)", lambda r: r.get("cpu_ms_per_job")),
        ("broker_cpu_ms_per_job", "CPU per job, ms (redis-server)", lambda r: r.get("broker_cpu_ms_per_job")),
    ]
    for gap, count in gaps:
        key = f"{gap:g}"
        for q in ("p50", "p99"):
            rows.append((f"pickup_{q}_{key}", f"pickup {q}, ms, {gap_label(gap)} (×{count:g})",
                         lambda r, k=key, q=q: (r.get("pickup", {}).get(k) or {}).get(f"{q}_ms")))
    rows += [
        ("idle_cpu_pct", "idle CPU %, workers", lambda r: r.get("idle_cpu_pct")),
        ("broker_idle_cpu_pct", "idle CPU %, redis-server", lambda r: r.get("broker_idle_cpu_pct")),
        ("rss_mb", "RSS MB, worker processes (sum)", lambda r: r.get("rss_mb")),
        ("pss_mb", "PSS MB, worker processes (sum)", lambda r: r.get("pss_mb")),
        ("processes", "worker processes when idle", lambda r: r.get("processes")),
    ]
    return rows


def run_driver(python: str, system: str, args: argparse.Namespace, gaps: list[list[float]],
               redis: peers_env.RedisServer | None, workdir: Path) -> dict[str, Any]:
    """One system, one round, in a process group of its own (killed whole on timeout or Ctrl-C)."""
    out = workdir / f"{system}.json"
    out.unlink(missing_ok=True)
    cmd = [python, str(BENCH / "peers_driver.py"), system, "--out", str(out), "--jobs", str(args.jobs),
           "--gaps", json.dumps(gaps), "--idle", str(args.idle), "--workdir", str(workdir)]
    if redis is not None and system in NEEDS_REDIS:
        cmd += ["--redis-url", redis.url, "--redis-pid", str(redis.proc.pid if redis.proc else 0)]
    budget = sum(g * n for g, n in gaps) + args.idle + args.jobs / 20 + 180
    proc = subprocess.Popen(cmd, start_new_session=True, stdin=subprocess.DEVNULL, stdout=sys.stderr)
    try:
        code = proc.wait(budget)
    except subprocess.TimeoutExpired:
        stop_group(proc)
        return {"system": system, "error": f"timed out after {budget:.0f} s"}
    except BaseException:
        stop_group(proc)
        raise
    if code != 0 or not out.exists():
        return {"system": system, "error": f"driver exited {code}"}
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the driver's process group (it stops its workers), SIGKILL after a grace."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(STOP_GRACE)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


def setup(systems: list[str], home: Path) -> tuple[dict[str, str], dict[str, str], str | None]:
    """(interpreter per runnable system, reason per skipped system, redis-server binary)."""
    pythons, skipped = {}, {}
    if "sccli" in systems:
        pythons["sccli"] = sys.executable
    peers = [s for s in systems if s != "sccli"]
    venv_python, why = peers_env.ensure_venv(home) if peers else (None, "")
    if peers:
        print(f"bench venv: {venv_python or '-'} ({why})", file=sys.stderr)
    redis_bin, redis_why = None, ""
    if any(s in NEEDS_REDIS for s in peers):
        redis_bin, redis_why = peers_env.ensure_redis_server()
        print(f"redis-server: {redis_bin or '-'} ({redis_why})", file=sys.stderr)
    for system in peers:
        if venv_python is None:
            skipped[system] = why
        elif system in NEEDS_REDIS and redis_bin is None:
            skipped[system] = redis_why
        else:
            pythons[system] = venv_python
    return pythons, skipped, redis_bin


def versions(pythons: dict[str, str], redis_bin: str | None) -> dict[str, str]:
    found = {"python": sys.version.split()[0]}
    try:
        rev = subprocess.run(["git", "-C", str(BENCH.parent), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
        found["sccli"] = rev or "?"
        peer = next((p for s, p in pythons.items() if s != "sccli"), None)
        if peer:
            code = (
                "import importlib.metadata as m; print(' '.join(f'{n} {m.version(n)}' for n in "
                "('rq', 'huey', 'redis')))"
            )
            found["peers"] = subprocess.run(
                [peer, "-c", code], capture_output=True, text=True, timeout=30
            ).stdout.strip()
        if redis_bin:
            found["redis-server"] = subprocess.run([redis_bin, "--version"], capture_output=True, text=True,
                                                   timeout=10).stdout.split(" v=")[-1].split()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        pass
    return found


def medians(runs: list[dict[str, Any]], rows: list[tuple[str, str, Any]]) -> dict[str, dict[str, float | None]]:
    """Per system and figure, the median over the rounds that have it."""
    table: dict[str, dict[str, float | None]] = {}
    for system in dict.fromkeys(r["system"] for r in runs):
        mine = [r for r in runs if r["system"] == system and "error" not in r]
        table[system] = {}
        for key, _, read in rows:
            values = [v for v in (read(r) for r in mine) if v is not None]
            table[system][key] = statistics.median(values) if values else None
    return table


def fmt(value: float | None, whole: bool = False) -> str:
    if value is None:
        return "-"
    if whole:
        return f"{value:g}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def render(meta: dict[str, Any], table: dict[str, dict[str, float | None]], rows: list[tuple[str, str, Any]]) -> str:
    systems = list(table)
    peers = [s for s in systems if s != "sccli"]
    head = ["figure", *systems, *(f"sccli/{p}" for p in peers if "sccli" in table)]
    body = []
    for key, label, _ in rows:
        line = [label, *(fmt(table[s][key], key in NO_RATIO) for s in systems)]
        for peer in peers if "sccli" in table else []:
            mine, theirs = table["sccli"][key], table[peer][key]
            line.append(f"{mine / theirs:.2f}x" if mine is not None and theirs and key not in NO_RATIO else "-")
        body.append(line)
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = [f"{meta['date']} · {meta['cpus']} CPUs · load average {meta['load_before']:.1f} before, "
             f"{meta['load_after']:.1f} after · {meta['rounds']} round(s), {meta['jobs']} jobs, medians · "
             + ", ".join(f"{k} {v}" for k, v in meta["versions"].items())]
    lines += [f"  {s}: {d}" for s, d in meta["describe"].items()]
    lines += [f"  skipped {s}: {why}" for s, why in meta["skipped"].items()]
    lines += [f"  failed {r['system']} round {r['round']}: {r['error']}" for r in meta["errors"]]
    lines.append("")
    for i, row in enumerate([head, ["-" * w for w in widths], *body]):
        cells = [row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))]
        lines.append("  ".join(cells) if i != 1 else "  ".join(row))
    lines.append("ratio = sccli ÷ peer: above 1 is better for jobs/s, below 1 is better for everything else.")
    return "\n".join(lines)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, help="jobs for the throughput (default 1000, --quick 300)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of every system in turn (A/B/A/B)")
    parser.add_argument("--quick", action="store_true", help="300 jobs, gaps 50 ms/1 s/10 s, 5 s idle window")
    parser.add_argument("--idle", type=float, help="idle CPU window in seconds (default 20, --quick 5)")
    parser.add_argument(
        "--systems", default=",".join(ALL_SYSTEMS), help="comma-separated, from " + ", ".join(ALL_SYSTEMS)
    )
    parser.add_argument("--home", type=Path, default=peers_env.BENCH_HOME, help="where the bench venv and runs live")
    parser.add_argument("--json", action="store_true", help="print every run and the medians as JSON")
    args = parser.parse_args()
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    if unknown := [s for s in systems if s not in ALL_SYSTEMS]:
        parser.error(f"unknown system(s): {', '.join(unknown)}")
    if args.rounds < 1 or (args.jobs is not None and args.jobs < 10):
        parser.error("--rounds must be ≥ 1 and --jobs ≥ 10")
    args.jobs = args.jobs or (300 if args.quick else 1000)
    args.idle = args.idle if args.idle is not None else (5.0 if args.quick else 20.0)
    gaps = QUICK_GAPS if args.quick else FULL_GAPS
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # also when started in the background, where SIGINT comes ignored
    runs: list[dict[str, Any]] = []
    load_before = os.getloadavg()[0]
    redis = None
    try:
        pythons, skipped, redis_bin = setup(systems, args.home)
        for system, why in skipped.items():
            print(f"skipping {system}: {why}", file=sys.stderr)
        if redis_bin and any(s in NEEDS_REDIS for s in pythons):
            redis = peers_env.RedisServer(redis_bin, args.home / "redis")
            redis.start()
        with tempfile.TemporaryDirectory(dir=args.home if args.home.exists() else None) as tmp:
            for rnd in range(1, args.rounds + 1):
                for system in (s for s in systems if s in pythons):
                    print(f"round {rnd}/{args.rounds}: {system}", file=sys.stderr, flush=True)
                    load = os.getloadavg()[0]
                    result = run_driver(pythons[system], system, args, gaps, redis, Path(tmp) / system)
                    runs.append(result | {"round": rnd, "load_before": load, "load_after": os.getloadavg()[0]})
    except KeyboardInterrupt:
        print("interrupted: workers and redis-server stopped", file=sys.stderr)
        return 130
    finally:
        if redis is not None:
            redis.stop()
    rows = figures(gaps)
    meta = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpus": os.cpu_count(),
        "load_before": load_before, "load_after": os.getloadavg()[0], "rounds": args.rounds, "jobs": args.jobs,
        "gaps": gaps, "idle_window_s": args.idle, "versions": versions(pythons, redis_bin),
        "describe": {r["system"]: r["describe"] for r in runs if "describe" in r}, "skipped": skipped,
        "errors": [r for r in runs if "error" in r],
    }
    table = medians(runs, rows)
    everything = json.dumps({"meta": meta, "medians": table, "runs": runs}, indent=2, default=str)
    saved = args.home / "last-run.json"
    saved.write_text(everything)
    print(f"every figure of this run: {saved}", file=sys.stderr)
    if args.json:
        print(everything)
    else:
        print(render(meta, table, rows))
    return 1 if meta["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
