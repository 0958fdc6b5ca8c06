"""The first monitor read after a bulk load, with and without the service's tally duty (run by hand).

    .venv/bin/python bench/first_read.py [--jobs 1000000] [--db PATH]

Fills a SQLite file with ``--jobs`` finished jobs over 90 days (bench/monitor.py's rows, no day
figures stored: what a bulk load or an upgrade that drops them leaves), copies it twice, then
times the first and second ``overview`` on one copy as it is, and on the other after the
background build (:func:`sccli.monitor.tally.prebuild` in turns of 0.5 s, as the service's
:class:`~sccli.service.tally_duty.TallyDuty` runs it). Target (issue 25): first read ≤ 1 s at 1M jobs,
before the background build too (a read then stores no day: :data:`sccli.monitor.tally.STORE_DAYS_PER_READ`).
``--cold-only`` times the reads before the build alone (one copy of the file).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from monitor import fill  # noqa: E402

from sccli.monitor import JobMonitor, tally  # noqa: E402
from sccli.store import open_store  # noqa: E402


def timed(label: str, fn: object) -> None:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    print(f"{label:<44} {time.perf_counter() - start:6.2f}s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="SQLite file to fill (kept and reused); default: a temporary file")
    parser.add_argument("--cold-only", action="store_true",
                        help="only the reads before any background build (one copy)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = args.db or Path(tmp) / "base.db"
        if not base.exists():
            store = open_store(f"sqlite:///{base}")
            store.ensure_schema()
            print(f"filled {args.jobs:,} jobs in {fill(store, args.jobs):.1f} s", flush=True)
            store.close()
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        cold, warm = Path(tmp) / "cold.db", Path(tmp) / "warm.db"
        shutil.copy(base, cold)
        if not args.cold_only:
            shutil.copy(base, warm)
        store = open_store(f"sqlite:///{cold}")
        timed("no background build: first overview", JobMonitor(store).get_queue_overview)
        timed("no background build: second overview", JobMonitor(store).get_queue_overview)
        timed("no background build: first report --days 7", lambda: JobMonitor(store).get_performance_report(7))
        if args.cold_only:
            return
        store = open_store(f"sqlite:///{warm}")
        start, cpu, turns, left = time.perf_counter(), time.process_time(), 0, 1
        while left:
            _built, left = tally.prebuild(store, 0.5)
            turns += 1
        print(f"background build: {turns} turns of ≤ 0.5 s, {time.perf_counter() - start:.2f}s wall, "
              f"{time.process_time() - cpu:.2f}s CPU")
        timed("after it: first overview", JobMonitor(store).get_queue_overview)
        timed("after it: first report --days 7", lambda: JobMonitor(store).get_performance_report(7))
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
