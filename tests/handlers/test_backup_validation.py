"""backup_creation (snapshot, manifest, pruning, cancel) and data_validation (manifest, IDX, archives)."""

from __future__ import annotations

import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from sccli.errors import PermanentError
from tests.handlers.conftest import has_partial, kill_midway, slow_writes


def make_dataset(jobs) -> None:
    jobs.input_dir.mkdir()
    (jobs.input_dir / "raw.bin").write_bytes(os.urandom(3000))
    (jobs.input_dir / "sub").mkdir()
    (jobs.input_dir / "sub" / "notes.txt").write_text("notes")
    jobs.output_dir.mkdir()
    (jobs.output_dir / "result.txt").write_text("converted")


def test_backup_snapshot_manifest_and_pruning(jobs, settings):
    import zstandard

    make_dataset(jobs)
    results = [jobs.run("backup_creation", keep=2) for _ in range(3)]
    last = results[-1]
    snapshots = sorted((Path(settings.backup_dir) / jobs.uuid).iterdir())
    assert [str(p) for p in snapshots] == [results[1]["snapshot"], results[2]["snapshot"]]
    assert last["pruned"] == [results[0]["snapshot"]] and last["files"] == 3
    manifest = json.loads(Path(last["manifest"]).read_text())
    assert set(manifest["files"]) == {"input/raw.bin", "input/sub/notes.txt", "output/result.txt"}
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(Path(last["archive"]).read_bytes())
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        assert tar.extractfile("output/result.txt").read() == b"converted"
        assert tar.extractfile("input/raw.bin").read() == (jobs.input_dir / "raw.bin").read_bytes()


def test_backup_refusals(jobs, settings):
    with pytest.raises(PermanentError, match="neither"):
        jobs.run("backup_creation")
    make_dataset(jobs)
    settings.backup_dir = None
    with pytest.raises(PermanentError, match="backup_dir"):
        jobs.run("backup_creation")


def test_backup_cancel_leaves_no_partial(jobs, settings):
    make_dataset(jobs)
    for i in range(30):
        (jobs.input_dir / f"more{i}.bin").write_bytes(os.urandom(2048))
    base = Path(settings.backup_dir) / jobs.uuid
    kill_midway(jobs, jobs.job("backup_creation"), lambda: base.is_dir() and any(base.iterdir()),
                setup=slow_writes("sccli.handlers.manifest", "sha256_file"))
    assert list(base.iterdir()) == [] and not has_partial(Path(settings.backup_dir))


def test_validation_builds_then_detects_changes(jobs):
    make_dataset(jobs)
    first = jobs.run("data_validation")
    assert first["manifest_state"] == "built" and first["files"] == 3
    second = jobs.run("data_validation")
    assert second["manifest_state"] == "compared"
    (jobs.input_dir / "raw.bin").write_bytes(b"tampered")
    (jobs.output_dir / "result.txt").unlink()
    (jobs.output_dir / "new.txt").write_text("extra")
    with pytest.raises(PermanentError, match=r"3 problem\(s\).*changed: input/raw.bin") as err:
        jobs.run("data_validation")
    assert "missing: output/result.txt" in str(err.value) and "extra: output/new.txt" in str(err.value)
    assert jobs.run("data_validation", rebuild=True)["manifest_state"] == "built"


def test_validation_tests_archives_and_idx(jobs):
    np = pytest.importorskip("numpy")
    pytest.importorskip("OpenVisus")
    make_dataset(jobs)
    np.save(jobs.input_dir / "volume.npy", np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6))
    with zipfile.ZipFile(jobs.input_dir / "good.zip", "w") as zf:
        zf.writestr("x.txt", "fine")
    import shutil

    shutil.rmtree(jobs.output_dir)
    jobs.run("dataset_conversion", sensor_type="NUMPY")
    result = jobs.run("data_validation")
    assert result["idx"][0]["dims"] == [6, 5, 4] and result["idx"][0]["checksum_ok"] is True
    assert result["archives"] == [str(jobs.input_dir / "good.zip")]
    # corrupt the IDX data and the archive: both are reported
    data_file = next(p for p in jobs.output_dir.rglob("*.bin"))
    data_file.write_bytes(b"\0" * data_file.stat().st_size)
    blob = bytearray((jobs.input_dir / "good.zip").read_bytes())
    blob[40] ^= 0xFF
    (jobs.input_dir / "good.zip").write_bytes(bytes(blob))
    with pytest.raises(PermanentError) as err:
        jobs.run("data_validation", rebuild=True)
    assert "idx:" in str(err.value) and "archive: good.zip" in str(err.value)
