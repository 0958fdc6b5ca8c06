"""sccli's pickup latency after idle gaps, and its idle cost, on SQLite (run by hand).

    .venv/bin/python bench/pickup.py [--quick] [--rounds 1] [--idle 20] [--set KEY=VALUE ...]
                                     [--ab PATH] [--db URL] [--no-datagram] [--json]

One ``sc service run`` from this repository (2 workers, the settings' defaults plus ``--set``) on a
fresh SQLite store (or ``--db URL``, e.g. a MongoDB replica set), warmed up with one job. Then:

1. idle cost: CPU % of the service and its template over ``--idle`` seconds (thread clocks from
   ``/proc``, nanoseconds), then their RSS and PSS;
2. pickup: after each gap — 50 ms (×50), 1 s (×20), 10 s (×5) and 60 s idle (×3); ``--quick``
   ×20, ×5, ×2 and no 60 s — one job is created from this process (``JobQueue.create_job``) and
   its handler sends its first ``time.time()`` back by UDP on the loopback address: latency = that
   time − the time just before ``create_job``.
Targets (issue 15): p50 ≤ 10 ms and p99 ≤ 25 ms at every gap, idle CPU ≤ 0.15 %. ``--set`` gives
the service more settings, e.g. ``--set poll_interval_seconds=1`` (values are JSON, else text).

The machine is shared, so figures move with its load: each round prints the 1-minute load average
at its start and end, and ``--ab PATH`` runs the service from another checkout (e.g. ``/work/main``)
in alternate rounds (A = this repository, B = PATH; A, B, A, B...), so both see the same load.
``--no-datagram`` creates jobs without the wake-up datagram: on MongoDB only a change stream (or
the poll) wakes the service then.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(1, str(BENCH.parent))

import peers_driver  # noqa: E402 - bench/ is not a package
import peers_systems  # noqa: E402

FULL_GAPS = [(0.05, 50), (1.0, 20), (10.0, 5), (60.0, 3)]
QUICK_GAPS = [(0.05, 20), (1.0, 5), (10.0, 2)]
TARGET_P50_MS, TARGET_P99_MS, TARGET_IDLE_PCT = 10.0, 25.0, 0.15


def parse_sets(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; a value is read as JSON when it parses, else kept as text."""
    settings: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"Error: --set wants KEY=VALUE, got {item!r}")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return settings


class Service(peers_systems.Sccli):
    """sccli's service from a given checkout, on SQLite or ``db``, with or without wake-up datagrams."""

    def __init__(self, workdir: Path, root: Path, db: str | None, datagram: bool) -> None:
        super().__init__(workdir, "")
        self.root, self.db_url, self.datagram = root, db, datagram

    def reset(self) -> None:
        super().reset()
        if self.db_url:
            from sccli.queue import JobQueue
            from sccli.store import open_store

            self.db = self.db_url
            self.queue = JobQueue(open_store(self.db, f"sc_pickup_{os.getpid()}"), extra_types={"noop", "mark"})
        if not self.datagram:
            self.queue._wake_services = lambda: None  # type: ignore[method-assign]

    def start_workers(self) -> None:
        path = os.pathsep.join([str(BENCH), str(self.root), os.environ.get("PYTHONPATH", "")])
        db_name = ["--db-name", f"sc_pickup_{os.getpid()}"] if self.db_url else []
        self.spawn([sys.executable, "-m", "sccli", "--db", self.db, *db_name, "service", "run", str(self.settings)], {"PYTHONPATH": path})


def one_round(workdir: Path, gaps: list[tuple[float, int]], idle: float, extra: dict[str, Any], root: Path,
              db: str | None, datagram: bool) -> dict[str, Any]:
    system = Service(workdir, root, db, datagram)
    system.extra_settings = extra
    system.reset()
    load = os.getloadavg()[0]
    try:
        result: dict[str, Any] = {"code": str(root), "load_start": load, "first_job_s": peers_driver.warm_up(system)}
        time.sleep(1.0)  # the warm-up job's completion and the first heartbeat settle
        result |= peers_driver.measure_idle(system, idle, None)
        result["pickup"] = peers_driver.measure_pickup(system, gaps)
        result["load_end"] = os.getloadavg()[0]
    finally:
        system.stop_workers()
        if db:
            system.queue.store.client.drop_database(f"sc_pickup_{os.getpid()}")  # type: ignore[attr-defined]
    return result


def report(rounds: list[dict[str, Any]], gaps: list[tuple[float, int]], extra: dict[str, Any], store: str) -> str:
    lines = [f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · {os.cpu_count()} CPUs · load average "
             f"{os.getloadavg()[0]:.1f} now · sc service run, 2 workers, {store}, settings defaults"
             + (f" + {json.dumps(extra)}" if extra else "")]
    for i, r in enumerate(rounds, 1):
        idle_ok = "met" if r["idle_cpu_pct"] <= TARGET_IDLE_PCT else "missed"
        lines.append(f"round {i} ({r['side']}: {r['code']}, load average {r['load_start']:.1f} → {r.get('load_end', 0.0):.1f}): "
                     f"first job {r['first_job_s']:.2f} s after start; idle {r['idle_cpu_pct']:.2f} % CPU "
                     f"(target ≤ {TARGET_IDLE_PCT} %: {idle_ok}), {r['processes']} processes, RSS {r['rss_mb']:.0f} MB, "
                     f"PSS {r['pss_mb']:.0f} MB")
        for gap, count in gaps:
            p = r["pickup"][f"{gap:g}"]
            if p["p50_ms"] is None:
                lines.append(f"  after {gap:g} s (×{count}): no job started ({p['lost']} lost)")
                continue
            ok = "met" if p["p50_ms"] <= TARGET_P50_MS and p["p99_ms"] <= TARGET_P99_MS else "missed"
            lost = f", {p['lost']} lost" if p["lost"] else ""
            lines.append(f"  after {gap:g} s (×{count}): p50 {p['p50_ms']:.1f} ms, p99 {p['p99_ms']:.1f} ms, "
                         f"max {p['max_ms']:.1f} ms{lost} (target p50 ≤ {TARGET_P50_MS:g}, p99 ≤ {TARGET_P99_MS:g}: {ok})")
    if len(rounds) > 1:
        lines += summary(rounds, gaps)
    return "\n".join(lines)


def summary(rounds: list[dict[str, Any]], gaps: list[tuple[float, int]]) -> list[str]:
    """Per side: the median of the rounds' p50 and idle CPU, the worst p99, at each gap."""
    import statistics

    lines = []
    for side in dict.fromkeys(r["side"] for r in rounds):
        mine = [r for r in rounds if r["side"] == side]
        parts = [f"idle {statistics.median(r['idle_cpu_pct'] for r in mine):.2f} %"]
        for gap, _count in gaps:
            figures = [r["pickup"][f"{gap:g}"] for r in mine if r["pickup"][f"{gap:g}"]["p50_ms"] is not None]
            if figures:
                parts.append(f"{gap:g} s: p50 {statistics.median(f['p50_ms'] for f in figures):.1f} / "
                             f"p99 {max(f['p99_ms'] for f in figures):.1f} ms")
        loads = [r["load_start"] for r in mine] + [r.get("load_end", r["load_start"]) for r in mine]
        lines.append(f"{side} over {len(mine)} round(s), load average {min(loads):.1f}-{max(loads):.1f}: " + "; ".join(parts))
    return lines


def _stop_on_term(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="gaps 50 ms ×20, 1 s ×5, 10 s ×2; 5 s idle window")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--idle", type=float, help="idle CPU window in seconds (default 20, --quick 5)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="a service setting (repeatable)")
    parser.add_argument("--ab", metavar="PATH", type=Path, help="another checkout to run in alternate rounds (B)")
    parser.add_argument("--db", metavar="URL", help="the store (default: a fresh SQLite file); a MongoDB database is dropped after")
    parser.add_argument("--no-datagram", action="store_true", help="create jobs without the wake-up datagram")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sides = [("A", BENCH.parent)] + ([("B", args.ab.resolve())] if args.ab else [])
    gaps = QUICK_GAPS if args.quick else FULL_GAPS
    idle = args.idle if args.idle is not None else (5.0 if args.quick else 20.0)
    extra = parse_sets(args.sets)
    signal.signal(signal.SIGTERM, _stop_on_term)
    rounds = []
    try:
        with tempfile.TemporaryDirectory(prefix="sc-pickup-") as tmp:
            for i in range(max(1, args.rounds) * len(sides)):
                side, root = sides[i % len(sides)]
                print(f"round {i + 1}: {side} ({root})", file=sys.stderr, flush=True)
                rounds.append({"side": side} | one_round(Path(tmp), gaps, idle, extra, root, args.db, not args.no_datagram))
    except KeyboardInterrupt:
        print("interrupted: the service was stopped", file=sys.stderr)
        return 130
    store = "MongoDB" if args.db and args.db.startswith("mongodb") else "SQLite"
    print(json.dumps({"settings": extra, "gaps": gaps, "rounds": rounds}, indent=2) if args.json
          else report(rounds, gaps, extra, store + ("" if not args.no_datagram else ", no wake-up datagram")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
