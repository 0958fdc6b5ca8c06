"""data_compression: tar.zst and tar.lz4 of a real directory, checksums, refusals, cancel."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from sccli.errors import InvalidInput
from tests.handlers.conftest import has_partial, kill_midway, slow_writes


def make_dataset(root: Path) -> dict[str, bytes]:
    files = {"a.txt": b"hello " * 1000, "sub/b.bin": os.urandom(20000), "sub/c.txt": b"c"}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "link").symlink_to("a.txt")
    return files


def read_tar(path: Path, fmt: str) -> dict[str, bytes]:
    raw = path.read_bytes()
    if fmt == "zst":
        import zstandard

        raw = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
    else:
        import lz4.frame

        raw = lz4.frame.decompress(raw)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        return {
            m.name: (tar.extractfile(m).read() if m.isreg() else m.linkname.encode())
            for m in tar.getmembers()
            if not m.isdir()
        }


@pytest.mark.parametrize("fmt", ["tar.zst", "lz4"])
def test_compresses_directory_with_checksums(jobs, fmt):
    files = make_dataset(jobs.input_dir)
    result = jobs.run("data_compression", format=fmt)
    archive = Path(result["archive"])
    assert archive.name == f"{jobs.uuid}.tar.{'zst' if fmt == 'tar.zst' else 'lz4'}"
    assert result["archive_sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert result["archive_bytes"] == archive.stat().st_size and 0 < result["ratio"] < 1
    members = read_tar(archive, "zst" if fmt == "tar.zst" else "lz4")
    for rel, data in files.items():
        assert members[f"{jobs.uuid}/{rel}"] == data
        assert result["file_checksums"][f"{jobs.uuid}/{rel}"] == hashlib.sha256(data).hexdigest()
    assert members[f"{jobs.uuid}/link"] == b"a.txt"
    manifest = json.loads(Path(result["manifest"]).read_text())
    assert manifest["archive_sha256"] == result["archive_sha256"]
    assert not has_partial(archive.parent)


def test_refusals(jobs, tmp_path):
    make_dataset(jobs.input_dir)
    with pytest.raises(InvalidInput, match="format"):
        jobs.run("data_compression", format="rar")
    with pytest.raises(InvalidInput, match="level"):
        jobs.run("data_compression", level=40)
    with pytest.raises(InvalidInput, match="outside"):
        jobs.run("data_compression", input_path="/etc")
    with pytest.raises(InvalidInput, match="outside"):
        jobs.run("data_compression", output_path=str(tmp_path / "x.tar.zst"))
    with pytest.raises(InvalidInput, match="inside the directory"):
        jobs.run("data_compression", output_path=str(jobs.input_dir / "self.tar.zst"))
    with pytest.raises(InvalidInput, match="does not exist"):
        jobs.run("data_compression", input_path=str(jobs.input_dir / "nope"))


def test_cancel_leaves_no_partial_archive(jobs):
    for i in range(30):
        (jobs.input_dir / f"f{i}.bin").parent.mkdir(parents=True, exist_ok=True)
        (jobs.input_dir / f"f{i}.bin").write_bytes(os.urandom(4096))
    job = jobs.job("data_compression")
    out = jobs.output_dir.parent
    kill_midway(
        jobs, job, lambda: any(out.glob(".*sc-partial-*")),
        setup=slow_writes("sccli.handlers.compression", "HashingSource.read"),
    )
    assert list(out.iterdir()) == []
