"""The IDX checksum of data_validation streams: bounded boxes, the same sha256 as conversion's."""

from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from sccli.handlers import idx
from sccli.handlers.idx import SIDE_CAR, checksum_boxes, idx_checksum, write_volume
from sccli.handlers.readers import Volume

np = pytest.importorskip("numpy")
ov = pytest.importorskip("OpenVisus")


class RecordingDataset:
    """An OpenVisus dataset whose reads are recorded (logic box sizes in bytes)."""

    def __init__(self, db: Any, reads: list[int]) -> None:
        self.db, self.reads = db, reads

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)

    def read(self, **kwargs: Any) -> Any:
        assert "logic_box" in kwargs or "max_resolution" in kwargs, "the whole dataset was read at once"
        piece = self.db.read(**kwargs)
        self.reads.append(piece.nbytes)
        return piece


def converted(jobs: Any) -> tuple[Path, str]:
    """A small IDX written by dataset_conversion, and the sha256 it recorded."""
    import json

    jobs.input_dir.mkdir()
    np.save(jobs.input_dir / "volume.npy", np.arange(7 * 5 * 6, dtype=np.float32).reshape(7, 5, 6))
    jobs.run("dataset_conversion", sensor_type="NUMPY")
    path = next(jobs.output_dir.rglob("*.idx"))
    return path, json.loads((path.parent / SIDE_CAR).read_text())["data_sha256"]


def test_same_checksum_as_conversion_in_bounded_reads(jobs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    path, expected = converted(jobs)
    # what validation did before
    whole = hashlib.sha256(np.ascontiguousarray(ov.LoadDataset(str(path)).read()).tobytes()).hexdigest()
    assert whole == expected
    reads: list[int] = []
    monkeypatch.setattr(ov, "LoadDataset", lambda url, _load=ov.LoadDataset: RecordingDataset(_load(url), reads))
    for slab in (4, 24, 100, 120, 1000, 10**9):  # one sample, part of a row, whole rows, several planes, all
        reads.clear()
        assert idx_checksum(path, slab_bytes=slab) == expected
        assert sum(reads) == 7 * 5 * 6 * 4 and max(reads) <= max(slab, 4)
    assert len(reads) == 1  # a dataset smaller than the slab is read in one box


def test_validation_job_reads_in_slabs(jobs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    converted(jobs)
    reads: list[int] = []
    monkeypatch.setattr(idx, "CHECKSUM_SLAB_BYTES", 48)
    monkeypatch.setattr(ov, "LoadDataset", lambda url, _load=ov.LoadDataset: RecordingDataset(_load(url), reads))
    result = jobs.run("data_validation")
    assert result["idx"][0]["checksum_ok"] is True
    checksum_reads = [n for n in reads if n <= 48]
    assert sum(checksum_reads) >= 7 * 5 * 6 * 4 and len(checksum_reads) >= 7 * 5 * 6 * 4 // 48


def test_memory_stays_bounded_on_a_large_dataset(tmp_path: Path) -> None:
    rows, shape = 32, (512, 512)  # 32 MiB of float32
    rng = np.random.default_rng(7)
    planes = [rng.random(shape, dtype=np.float32) for _ in range(2)]
    volume = Volume(
        (rows, *shape), np.dtype(np.float32), 1, lambda a, b: np.stack([planes[i % 2] for i in range(a, b)]), []
    )
    written = write_volume(volume, tmp_path / "big.idx", compression="raw", slab_bytes=4 * 1024 * 1024)
    tracemalloc.start()
    try:
        checksum = idx_checksum(tmp_path / "big.idx", slab_bytes=1024 * 1024)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert checksum == written["data_sha256"]
    assert volume.nbytes == 32 * 1024 * 1024 and peak < 4 * 1024 * 1024, peak  # a few slabs at most, never the dataset


def test_boxes_cover_the_array_in_memory_order() -> None:
    p1, p2 = [1, 0, 2], [4, 3, 5]  # x 1..3, y 0..2, z 2..4; samples of 2 bytes
    expected = [(x, y, z) for z in range(2, 5) for y in range(3) for x in range(1, 4)]
    for slab in (2, 4, 6, 8, 18, 20, 1000):
        covered = []
        for low, high in checksum_boxes(p1, p2, 2, slab):
            size = 2 * (high[0] - low[0]) * (high[1] - low[1]) * (high[2] - low[2])
            assert size <= max(slab, 2)
            covered += [
                (x, y, z)
                for z in range(low[2], high[2])
                for y in range(low[1], high[1])
                for x in range(low[0], high[0])
            ]
        assert covered == expected, slab
    assert list(checksum_boxes([0, 0], [0, 3], 4, 100)) == []
