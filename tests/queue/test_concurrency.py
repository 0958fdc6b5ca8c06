"""Atomic claims across processes: every job claimed exactly once, none lost."""

from __future__ import annotations

import multiprocessing as mp
from collections import Counter

import pytest

from sccli.queue import JobQueue
from sccli.store.base import JobQuery
from tests.conftest import StoreSpec, new_uuid


def _claimer(url: str, db_name: str, worker: str, out: mp.Queue) -> None:
    from sccli.store import open_store

    queue = JobQueue(open_store(url, db_name), actor=f"worker:test:{worker}")
    claimed = []
    while (job := queue.claim_next(worker)) is not None:
        claimed.append(job["job_id"])
        assert queue.complete(job["job_id"], job["lease_token"], {"by": worker}) is not None
    out.put(claimed)


def _fill(spec: StoreSpec, count: int) -> set[str]:
    store = spec.open()
    queue = JobQueue(store)
    ids = set()
    for i in range(count):
        doc = queue.build_job(
            new_uuid(), "data_validation", {"manifest_path": f"/data/{i}/manifest.json"}, priority=1 + i % 3,
            max_attempts=None, timeout_minutes=None,
        )
        store.insert_job(doc)
        ids.add(doc["job_id"])
    store.close()
    return ids


def _race(spec: StoreSpec, jobs: int, processes: int = 4) -> None:
    ids = _fill(spec, jobs)
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=_claimer, args=(spec.url, spec.db_name, f"w{i}", out)) for i in range(processes)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    counts = Counter(j for claimed in results for j in claimed)
    assert set(counts) == ids, "every job claimed"
    assert max(counts.values()) == 1, "no job claimed twice"
    assert sum(1 for r in results if r) >= 2, "the claims were really concurrent"
    store = spec.open()
    assert store.count_jobs(JobQuery(status=["completed"])) == jobs
    assert store.count_jobs(JobQuery(status=["pending", "running"])) == 0


def test_four_processes_share_2000_jobs_on_one_sqlite_file(sqlite_spec: StoreSpec) -> None:
    _race(sqlite_spec, 2000)


@pytest.mark.wire
def test_four_processes_share_jobs_on_the_wire_server(wire_spec: StoreSpec) -> None:
    _race(wire_spec, 600)
