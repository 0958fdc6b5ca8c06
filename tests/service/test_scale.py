"""Two services × 2 workers over 300 jobs on one store: each job completed exactly once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from sccli.store.base import JobQuery
from tests.conftest import StoreSpec, add_dataset, make_spec
from tests.service.conftest import make_queue, write_settings

BUILTIN_AS_OK = {"google_sync": "tests.service.plugins:ok", "dataset_conversion": "tests.service.plugins:ok"}


@pytest.mark.parametrize("kind", ["sqlite", "wire"])
def test_two_services_300_jobs_each_completed_once(kind: str, tmp_path: Path, services) -> None:
    spec: StoreSpec = make_spec(kind, tmp_path)
    store = spec.open()
    try:
        queue = make_queue(store)
        datasets = [add_dataset(store) for _ in range(150)]
        syncs = [queue.create_job(uuid, "google_sync") for uuid in datasets]  # each chains a conversion: 300 jobs
        # Heartbeats of live services must not look stale on a loaded machine (only exactly-once is tested here).
        settings = write_settings(
            tmp_path, handlers=BUILTIN_AS_OK, workers=2, poll_interval_seconds=0.05, heartbeat_seconds=0.5,
            stale_after_seconds=5.0,
        )
        first, second = services(spec, settings, "--until-idle"), services(spec, settings, "--until-idle")
        assert first.wait(90) == 0, first.log()
        assert second.wait(90) == 0, second.log()

        jobs = store.find_jobs(JobQuery(), limit=None)
        assert len(jobs) == 300
        assert Counter(j["status"] for j in jobs) == {"completed": 300}
        assert all(j["attempts"] == 1 for j in jobs)
        conversions = [j for j in jobs if j["job_type"] == "dataset_conversion"]
        assert sorted(j["parent_job_id"] for j in conversions) == sorted(syncs)  # chained once each
        for job in jobs[:30]:  # completed exactly once: one claim, one completion in the event log
            moves = Counter(
                (e.get("from"), e.get("to"))
                for e in store.find_events(job["job_id"])
                if e.get("entity", "job") == "job"
            )
            assert moves[("pending", "running")] == 1 and moves[("running", "completed")] == 1, moves
        assert {d["status"] for d in store.find_datasets(uuids=datasets)} == {"done"}
        by_service = Counter(j["pid"] for j in jobs)
        assert set(by_service) == {first.pid, second.pid}, by_service
    finally:
        if kind == "wire":
            store.client.drop_database(spec.db_name)  # type: ignore[attr-defined]
        store.close()
