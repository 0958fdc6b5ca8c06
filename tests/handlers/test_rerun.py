"""Handlers run at least once: a service killed after the handler ended but before its outcome
was recorded runs it again. Re-running each built-in handler on its own finished output (the same
job, a new attempt) gives the same end state, no error and no duplicate."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from sccli.handlers import resolve_handler
from sccli.settings import Settings


def state(settings: Settings) -> dict[str, str]:
    """Every entry under the data directories with a digest of its content (or its link target)."""
    found: dict[str, str] = {}
    for root in settings.data_dirs:
        for path in sorted(Path(root).rglob("*")):
            rel = f"{Path(root).name}/{path.relative_to(root)}"
            if path.is_symlink():
                found[rel] = f"-> {path.readlink()}"
            elif path.is_file():
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                found[rel] = "dir"
    return found


def twice(jobs: Any, job_type: str, **params: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run one job twice, as two attempts (two leases), checking the end state is the same."""
    job = jobs.job(job_type, **params)
    handler = resolve_handler(job_type, jobs.settings)
    first = handler(jobs.context({**job, "lease_token": "aaaaaaaa-first", "attempts": 1}))
    after_first = state(jobs.settings)
    second = handler(jobs.context({**job, "lease_token": "bbbbbbbb-again", "attempts": 2}))
    assert state(jobs.settings) == after_first
    assert second["status"] == "success" and not any(".sc-partial-" in name for name in after_first)
    return first, second


def archive(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / "data.tar", "w") as tar:
        for name, data in (("a.txt", b"alpha"), ("sub/b.txt", b"beta")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return folder / "data.tar"


@pytest.mark.parametrize("remove", [False, True])
def test_extraction_twice(jobs, remove):
    tar = archive(jobs.input_dir)
    first, second = twice(jobs, "file_extraction", archive_path=[str(tar)], remove_archives=remove)
    assert (jobs.input_dir / "sub" / "b.txt").read_bytes() == b"beta" and tar.exists() is not remove
    assert second["next_parameters"] == first["next_parameters"]


def test_conversion_twice(jobs):
    np = pytest.importorskip("numpy")
    pytest.importorskip("OpenVisus")
    jobs.input_dir.mkdir()
    np.save(jobs.input_dir / "volume.npy", np.arange(512, dtype="uint16").reshape(8, 8, 8))
    first, second = twice(jobs, "dataset_conversion", sensor_type="NUMPY")
    assert second["output_path"] == first["output_path"] and second["dims"] == first["dims"]


def test_compression_twice(jobs):
    jobs.input_dir.mkdir()
    (jobs.input_dir / "a.txt").write_text("alpha" * 1000)
    first, second = twice(jobs, "data_compression")
    assert second["archive"] == first["archive"] and second["archive_sha256"] == first["archive_sha256"]


def test_upload_twice(jobs, settings):
    staging = Path(settings.sync_data_dir) / "incoming"
    staging.mkdir()
    (staging / "a.txt").write_text("alpha")
    tar = archive(staging)
    first, second = twice(jobs, "file_upload", files=[str(staging / "a.txt"), str(tar)])
    assert second["skipped"] == 2 and second["next_parameters"] == first["next_parameters"]


def test_backup_twice(jobs, settings):
    jobs.input_dir.mkdir()
    (jobs.input_dir / "a.txt").write_text("alpha")
    first, second = twice(jobs, "backup_creation")
    assert second["snapshot"] == first["snapshot"] and second["archive_sha256"] == first["archive_sha256"]
    assert len(list((Path(settings.backup_dir) / jobs.uuid).iterdir())) == 1
