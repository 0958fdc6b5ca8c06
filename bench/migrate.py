"""Legacy migration of N datasets on SQLite: dry run, run, re-run, validate, rollback (run by hand).

    .venv/bin/python bench/migrate.py [--datasets 100000] [--batch-size 1000]

Every dataset is given a status that needs a job and, except one in ten (left without an input
directory, so the plan lists it as a problem and skips it), everything its job needs: the worst
case, about 90,000 jobs to create. Target (issue 15): run, validate and rollback of 100,000
datasets each under 20 s. ``--profile FILE`` writes a cProfile of the three timed phases.
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
from sccli.settings import Settings
from sccli.store import open_store
from sccli.store.base import Store

STATUSES = list(MIGRATION_TABLE)


def seed(store: Store, count: int, in_dir: Path) -> None:
    now = utcnow()
    docs: list[dict[str, Any]] = []
    for i in range(count):
        uid = str(uuid.uuid4())
        docs.append({
            "uuid": uid, "name": f"dataset {i}", "status": STATUSES[i % len(STATUSES)], "user": f"user{i % 97}@example.org",
            "sensor": "TIFF", "google_drive_link": f"https://drive.google.com/drive/folders/{i}", "created_at": now, "updated_at": now,
            "conversion_parameters": {"Xs_dataset": "/x", "Ys_dataset": "/y"} if i % 5 == 0 else None,
        })
        if docs[-1]["status"] in ("upload queued", "uploading"):
            docs[-1]["files"] = [str(in_dir / uid / "upload.bin")]
        if i % 10:
            (in_dir / uid).mkdir()
            if docs[-1]["status"] == "unzipping":
                (in_dir / uid / "upload.zip").write_bytes(b"PK\x05\x06" + bytes(18))
        if len(docs) == 5000:
            store.insert_datasets(docs)
            docs = []
    store.insert_datasets(docs)


def timed(label: str, action: Callable[[], Any], profiler: Any = None) -> Any:
    """Run ``action``, print its wall time and its CPU time (the figure that matters on a shared
    machine: wall time there includes waiting for the cores)."""
    start, cpu = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    result = action()
    if profiler is not None:
        profiler.disable()
    print(f"{label:<28} {time.perf_counter() - start:7.2f} s wall {time.process_time() - cpu:7.2f} s CPU")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of run, validate and rollback to FILE")
    args = parser.parse_args()
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "in").mkdir()
        (root / "out").mkdir()
        store = open_store(f"sqlite:///{root / 'bench.db'}")
        timed(f"seed {args.datasets} datasets", lambda: seed(store, args.datasets, root / "in"))
        settings = Settings(in_data_dir=str(root / "in"), out_data_dir=str(root / "out"))
        migration = JobMigration(store, settings=settings, batch_size=args.batch_size, actor="bench")
        plan = timed("dry run", lambda: migration.run(dry_run=True))  # keeps every item, as `sc migrate run --dry-run`
        report = timed("run (live)", lambda: migration.run(detail=False), profiler)  # what `sc migrate run --yes` does
        again = timed("run again (idempotent)", lambda: migration.run(detail=False))
        findings = timed("validate", lambda: migration.validate(), profiler)
        rollback = timed("rollback", lambda: migration.rollback(), profiler)
        print(f"planned {plan.created}, created {report.created} ({report.with_problems} with problems), second run created {again.created}")
        print(f"validation findings {len(findings)}; rollback removed {rollback.removed}, not undone {len(rollback.not_undone)}")
        if profiler is not None:
            profiler.dump_stats(args.profile)
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; db {os.path.getsize(root / 'bench.db') / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
