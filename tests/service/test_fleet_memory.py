"""A fleet-wide memory limit (``sc queue set TYPE --memory-limit-mb``) enforced by a real service
on a job's whole tree, before the host's own settings (SQLite and the wire server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sccli.controls import set_limits
from tests.conftest import StoreSpec, add_dataset, make_spec
from tests.service.conftest import make_queue, write_settings

MB = 1 << 20


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("wire", marks=pytest.mark.wire)])
def test_the_fleet_memory_limit_stops_a_job_the_settings_would_let_run(kind: str, tmp_path: Path, services) -> None:
    spec: StoreSpec = make_spec(kind, tmp_path)
    settings = write_settings(tmp_path, handlers={"dataset_conversion": "tests.service.resource_plugins:hog"},
                              memory_limit_mb_by_type={"dataset_conversion": 4096}, memory_check_seconds=0.05)
    store = spec.open()
    store.ensure_schema()
    try:
        queue = make_queue(store, settings)
        set_limits(store, "dataset_conversion", {"memory_limit_mb": 160}, [], "cli:admin", "hosts run out of memory")
        final, marker = tmp_path / "out" / "converted.idx", tmp_path / "partial-name"
        params = {"output_path": str(final), "mb": 400, "marker": str(marker), "timeout_seconds": 40}
        job_id = queue.create_job(add_dataset(store), "dataset_conversion", params, max_attempts=3)
        service = services(spec, settings, "--until-idle")
        assert service.wait(timeout=60) == 0, service.log()
        job = queue.get_job(job_id)
        assert job["status"] == "failed" and job["attempts"] == 1, job
        assert job["errors"][-1]["kind"] == "memory", job
        assert "limit 160 MB for dataset_conversion" in job["error"]
        [used] = job["resources"]
        assert used["memory_limit_bytes"] == 160 * MB and used["peak_rss_bytes"] > 160 * MB
        assert not Path(marker.read_text()).exists() and not final.exists()
    finally:
        if kind == "wire":
            store.client.drop_database(spec.db_name)  # type: ignore[attr-defined]
        store.close()
