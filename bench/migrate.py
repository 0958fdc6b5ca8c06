"""Legacy migration of N datasets on SQLite: dry run, run, re-run, validate, rollback (run by hand).

    .venv/bin/python bench/migrate.py [--datasets 100000] [--batch-size 5000] [--profile PREFIX]

Every dataset is given a status that needs a job and, except one in ten (left without an input
directory, so the plan lists it as a problem and skips it), everything its job needs: the worst
case, about 90,000 jobs to create. Target (issue 15): run, validate and rollback of 100,000
datasets each under 20 s. ``--profile PREFIX`` writes a cProfile of each of the three timed phases.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sccli.clock import utcnow
from sccli.migration import MIGRATION_TABLE, JobMigration
from sccli.migration.run import DEFAULT_BATCH_SIZE
from sccli.settings import Settings
from sccli.store import open_store
from sccli.store.base import Store

STATUSES = list(MIGRATION_TABLE)


def seed(store: Store, count: int, in_dir: Path) -> None:
    now = utcnow()
    docs: list[dict[str, Any]] = []
    for i in range(count):
        uid = str(uuid.uuid4())
        docs.append(
            {
                "uuid": uid, "name": f"dataset {i}", "status": STATUSES[i % len(STATUSES)],
                "user": f"user{i % 97}@example.org", "sensor": "TIFF",
                "google_drive_link": f"https://drive.google.com/drive/folders/{i}", "created_at": now,
                "updated_at": now,
                "conversion_parameters": {"Xs_dataset": "/x", "Ys_dataset": "/y"} if i % 5 == 0 else None,
            }
        )
        if docs[-1]["status"] in ("upload queued", "uploading"):
            docs[-1]["files"] = [str(in_dir / uid / "upload.bin")]
        if i % 10:
            (in_dir / uid).mkdir()
            if docs[-1]["status"] == "unzipping":
                (in_dir / uid / "upload.zip").write_bytes(b"PK\x05\x06" + bytes(18))
        if len(docs) == 5000:
            store.ledger.insert_datasets(docs)
            docs = []
    store.ledger.insert_datasets(docs)


def run_queue_seconds() -> float | None:
    """Time this process has spent runnable but waiting for a core (Linux schedstat), or None:
    on a shared machine it tells load from I/O in the gap between wall and CPU time."""
    try:
        return int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def timed(label: str, action: Callable[[], Any], profile: str | None = None) -> Any:
    """Run ``action``, print its wall time and its CPU time (the figure that matters on a shared
    machine: wall time there includes waiting for the cores); ``profile``: write its cProfile there."""
    profiler = None
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile()
    start, cpu, queued = time.perf_counter(), time.process_time(), run_queue_seconds()
    if profiler is not None:
        profiler.enable()
    result = action()
    if profiler is not None:
        profiler.disable()
    queued_after = run_queue_seconds()
    waited = "" if queued is None or queued_after is None else f" {queued_after - queued:7.2f} s waiting for a core"
    print(
        f"{label:<28} {time.perf_counter() - start:7.2f} s wall {time.process_time() - cpu:7.2f} s CPU{waited}",
        flush=True,
    )
    if profiler is not None and profile is not None:
        profiler.dump_stats(profile)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument(
        "--profile", metavar="PREFIX",
        help="write a cProfile of each timed phase to PREFIX.run, PREFIX.validate, PREFIX.rollback",
    )
    args = parser.parse_args()

    def profile(phase: str) -> str | None:
        return f"{args.profile}.{phase}" if args.profile else None

    print(f"load average {' '.join(f'{n:.1f}' for n in os.getloadavg())} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "in").mkdir()
        (root / "out").mkdir()
        store = open_store(f"sqlite:///{root / 'bench.db'}")
        timed(f"seed {args.datasets} datasets", lambda: seed(store, args.datasets, root / "in"))
        settings = Settings(in_data_dir=str(root / "in"), out_data_dir=str(root / "out"))
        migration = JobMigration(store, settings=settings, batch_size=args.batch_size, actor="bench")
        plan = timed("dry run", lambda: migration.run(dry_run=True))  # keeps every item, as `sc migrate run --dry-run`
        # what `sc migrate run --yes` does
        report = timed("run (live)", lambda: migration.run(detail=False), profile("run"))
        again = timed("run again (idempotent)", lambda: migration.run(detail=False))
        findings = timed("validate", lambda: migration.validate(), profile("validate"))
        rollback = timed("rollback", lambda: migration.rollback(), profile("rollback"))
        print(
            f"planned {plan.created}, created {report.created} ({report.with_problems} with problems), second run "
            f"created {again.created}"
        )
        print(
            f"validation findings {len(findings)}; rollback removed {rollback.removed}, restored {rollback.restored}, "
            f"not undone {len(rollback.not_undone)}"
        )
        print(
            f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; db "
            f"{os.path.getsize(root / 'bench.db') / 1e6:.0f} MB"
        )
    print(f"load average {' '.join(f'{n:.1f}' for n in os.getloadavg())}")


if __name__ == "__main__":
    main()
