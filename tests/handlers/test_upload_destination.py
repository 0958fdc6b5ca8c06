"""An upload to an explicit ``destination`` passes that destination on: the conversion it chains
reads the files where the upload put them, not the default input directory."""

from __future__ import annotations

import sys
from pathlib import Path

from sccli.datasets import add_dataset
from sccli.handlers import resolve_handler
from sccli.queue import JobQueue
from sccli.store import open_store

CONVERTER = """
import pathlib, sys
src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
names = sorted(p.name for p in src.iterdir())
(out / "converted-from.txt").write_text(str(src) + "\\n" + "\\n".join(names))
"""


def test_upload_with_destination_then_conversion_succeeds(jobs, settings, tmp_path):
    script = tmp_path / "converter.py"
    script.write_text(CONVERTER)
    settings.converters = {"CUSTOM": [sys.executable, str(script)]}
    store = open_store(f"sqlite:///{tmp_path / 'chain.db'}", "chain")
    queue = JobQueue(store, actor="cli:test@host", retry_base_seconds=0.0, retry_max_seconds=0.0)
    add_dataset(store, jobs.uuid, "uploaded elsewhere", "submitted", sensor="CUSTOM", convert=True)
    source = Path(settings.sync_data_dir) / "incoming.dat"
    source.write_bytes(b"raw frames")
    destination = Path(settings.sync_data_dir) / jobs.uuid  # the dataset's own sync directory
    queue.create_job(jobs.uuid, "file_upload", {"files": [str(source)], "destination": str(destination)})
    ran = []
    while (job := queue.claim_next("test-worker")) is not None:
        try:
            result = resolve_handler(job["job_type"], settings)(jobs.context(job))
        except Exception as exc:  # a failed conversion shows up as the job's error, as in the service
            queue.fail(job["job_id"], job["lease_token"], str(exc), retry=False)
            ran.append(f"{job['job_type']} failed: {exc}")
            continue
        queue.complete(job["job_id"], job["lease_token"], result)
        ran.append(job["job_type"])
    assert ran == ["file_upload", "dataset_conversion"]
    assert not jobs.input_dir.exists()  # nothing was read or written at the default input directory
    assert (jobs.output_dir / "converted-from.txt").read_text() == f"{destination}\nincoming.dat"
    assert store.get_dataset(jobs.uuid)["status"] == "done"
    store.close()
