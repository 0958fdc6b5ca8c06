"""kill -9 in the middle of a live run (inside a batch), then a re-run: the same jobs as one
clean run, none twice, and a rollback that undoes exactly what both runs created."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sccli.store import open_store
from sccli.store.base import JobQuery
from tests.conftest import make_spec
from tests.migration.conftest import build_legacy

CHILD = """
import sys
from sccli.migration import JobMigration
from sccli.settings import Settings
from sccli.store import open_store
url, db, root = sys.argv[1:4]
store = open_store(url, db or None)
settings = Settings(in_data_dir=root + "/in", out_data_dir=root + "/out", sync_data_dir=root + "/sync",
                    auth_dir=root + "/auth")
JobMigration(store, settings=settings, actor="cli:killed@host", batch_size=40, grace_seconds=0).run(detail=False)
"""


def _run_and_kill(url: str, db_name: str, root: Path, store: Any, before: int, after_jobs: int) -> None:
    """Start a live run in a child and SIGKILL it once ``after_jobs`` jobs of it are in."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, db_name, str(root)], env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            if store.count_jobs(JobQuery()) - before >= after_jobs:
                break
            time.sleep(0.005)
        assert child.poll() is None, "the run finished before it could be killed: use more datasets"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL


@pytest.mark.parametrize("kind", ["sqlite", "wire"])
@pytest.mark.parametrize("share", [0.0, 0.5])
def test_a_run_killed_mid_batch_then_rerun_gives_one_job_per_dataset_and_an_exact_rollback(
    kind: str, share: float, tmp_path: Path
) -> None:
    spec = make_spec(kind, tmp_path)
    store = spec.open()
    try:
        legacy = build_legacy(store, tmp_path, 1500 if kind == "sqlite" else 900)
        before = store.count_jobs(JobQuery())
        after_jobs = max(1, int(share * len(legacy.needing_jobs())))  # the first batch, or half way
        _run_and_kill(spec.url, spec.db_name if kind == "wire" else "", tmp_path, store, before, after_jobs)
        killed = store.count_jobs(JobQuery()) - before
        assert killed < len(legacy.needing_jobs())

        store = open_store(spec.url, spec.db_name if kind == "wire" else None)
        legacy.store = store
        report = legacy.migration(grace_seconds=0).run()
        assert report.created == len(legacy.needing_jobs()) - killed
        active: dict[str, list[str]] = {}
        for job in store.find_jobs(JobQuery(status=["pending"]), sort=()):
            active.setdefault(job["dataset_uuid"], []).append(job["job_id"])
        assert sorted(u for u in active if u not in legacy.existing_jobs) == legacy.needing_jobs()
        assert all(len(ids) == 1 for ids in active.values()), "a dataset got two jobs"
        findings = legacy.migration().validate()
        assert {f.check for f in findings} <= {"blocked"} and len(findings) == len(legacy.left_blocked())

        rollback = legacy.migration().rollback()
        assert rollback.removed == len(legacy.needing_jobs()) and rollback.not_undone == []
        left = {j["job_id"] for j in store.find_jobs(JobQuery(), sort=())}
        assert left == set(legacy.existing_jobs.values())
        statuses = {d["uuid"]: d["status"] for d in store.find_datasets(uuids=list(legacy.status_of))}
        assert statuses == legacy.status_of
    finally:
        if kind == "wire":
            store.client.drop_database(spec.db_name)  # type: ignore[attr-defined]
        store.close()
