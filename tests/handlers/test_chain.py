"""The handlers' results drive the chain: file_upload of an archive → file_extraction →
dataset_conversion → dataset done, through a real SQLite queue (as the service runs them)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from sccli.datasets import add_dataset
from sccli.handlers import resolve_handler
from sccli.queue import JobQueue
from sccli.store import open_store

np = pytest.importorskip("numpy")
pytest.importorskip("OpenVisus")
tifffile = pytest.importorskip("tifffile")


def test_upload_extract_convert_chain(jobs, settings, tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'chain.db'}", "chain")
    queue = JobQueue(store, actor="cli:test@host", retry_base_seconds=0.0, retry_max_seconds=0.0)
    add_dataset(store, jobs.uuid, "chained", "submitted", sensor="TIFF")
    volume = (np.arange(5 * 16 * 20) % 200).astype(np.uint8).reshape(5, 16, 20)
    bundle = Path(settings.sync_data_dir) / "stack.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        for i, plane in enumerate(volume):
            path = tmp_path / f"z{i}.tif"
            tifffile.imwrite(path, plane)
            zf.write(path, f"stack/z{i}.tif")
    queue.create_job(jobs.uuid, "file_upload", {"files": [str(bundle)], "sensor_type": "TIFF"})
    ran = []
    while (job := queue.claim_next("test-worker")) is not None:
        result = resolve_handler(job["job_type"], settings)(jobs.context(job))
        queue.complete(job["job_id"], job["lease_token"], result)
        ran.append(job["job_type"])
    assert ran == ["file_upload", "file_extraction", "dataset_conversion"]
    assert store.get_dataset(jobs.uuid)["status"] == "done"
    import OpenVisus as ov

    assert np.array_equal(ov.LoadDataset(str(jobs.output_dir / "visus.idx")).read(), volume)
    store.close()
