"""dataset_conversion in bounded memory: the IDX is split into data files, zipped block by block
on several threads into exactly the bytes OpenVisus' own pass writes, and the conversion
child's peak RSS does not grow with the dataset."""

from __future__ import annotations

import filecmp
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sccli.handlers import idx as idx_module
from sccli.handlers.idx import idx_checksum, zip_idx
from sccli.handlers.idxzip import available_cores, conversion_workers
from sccli.settings import Settings

np = pytest.importorskip("numpy")
ov = pytest.importorskip("OpenVisus")

MB = 1024 * 1024


def raw_idx(path: Path, data, *, blocksperfile: int):
    fields = [ov.Field("data", data.dtype.name)]
    db = ov.CreateIdx(url=str(path), dims=list(reversed(data.shape)), fields=fields, blocksperfile=blocksperfile)
    for start in range(0, data.shape[0], 7):  # slabs that cut through blocks, as the handler writes
        stop = min(data.shape[0], start + 7)
        db.write(data[start:stop], logic_box=([0, 0, start], [data.shape[2], data.shape[1], stop]))
    return db


def test_zip_pass_writes_the_bytes_openvisus_writes(tmp_path: Path) -> None:
    data = ((np.arange(40 * 120 * 90) % 4093) * 3.5).astype(np.float32).reshape(40, 120, 90)
    data[10:20] = 0  # blocks of zeros next to busy ones
    theirs, ours = tmp_path / "theirs" / "visus.idx", tmp_path / "ours" / "visus.idx"
    raw_idx(theirs, data, blocksperfile=4).compressDataset(["zip"])
    zip_idx(raw_idx(ours, data, blocksperfile=4), ours, workers=3)
    assert ours.read_text() == theirs.read_text() and "default_compression(zip)" in ours.read_text()
    files = sorted(p.name for p in (theirs.parent / "visus").iterdir())
    assert len(files) > 1 and files == sorted(p.name for p in (ours.parent / "visus").iterdir())
    for name in files:
        assert filecmp.cmp(theirs.parent / "visus" / name, ours.parent / "visus" / name, shallow=False), name
    assert np.array_equal(ov.LoadDataset(str(ours)).read(), data)


def test_a_large_volume_is_split_into_data_files(jobs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idx_module, "DATA_FILE_BYTES", 512 * 1024)  # 2 blocks of float32 per file
    data = (np.arange(40 * 128 * 160) % 1009).astype(np.float32).reshape(40, 128, 160)
    jobs.input_dir.mkdir()
    np.save(jobs.input_dir / "cube.npy", data)
    result = jobs.run("dataset_conversion", sensor_type="NUMPY", conversion_params={"verify": "full"})
    text = (jobs.output_dir / "visus.idx").read_text()
    assert "(blocksperfile)\n2\n" in text and "default_compression(zip)" in text
    assert len(list((jobs.output_dir / "visus").iterdir())) >= 4
    assert np.array_equal(ov.LoadDataset(str(jobs.output_dir / "visus.idx")).read(), data)
    expected = hashlib.sha256(data.tobytes()).hexdigest()
    assert result["data_sha256"] == idx_checksum(jobs.output_dir / "visus.idx") == expected
    assert any("zipped" in (message or "") for _, message in jobs.progress)


def test_conversion_workers_are_capped_by_the_setting_and_the_cores() -> None:
    cores = available_cores()
    assert conversion_workers(0) == cores
    assert conversion_workers(1) == 1
    assert conversion_workers(cores + 5) == cores


#: Run in a fresh interpreter: convert one dataset, print the result and the process's peak RSS
#: (VmHWM: the peak of this program only; wait4's ru_maxrss would count the forked parent's
#: pages before the exec).
CHILD = """
import json, logging, sys
from sccli.handlers import resolve_handler
from sccli.handlers.base import JobContext
from sccli.settings import Settings
settings = Settings(**json.loads(sys.argv[1]))
job = {"job_id": "memory-test", "dataset_uuid": sys.argv[2], "job_type": "dataset_conversion",
       "parameters": {"sensor_type": "NUMPY"}}
context = JobContext(job=job, settings=settings, log=logging.getLogger("t"))
result = resolve_handler("dataset_conversion", settings)(context)
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({"result": result, "peak_mb": int(status["VmHWM"].split()[0]) // 1024}))
"""


def write_npy(path: Path, megabytes: int) -> str:
    """A uint16 volume of 1024×1024 slices (a gradient with noise: zip has real work); its sha256."""
    rows = megabytes * MB // (2 * MB)
    array = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint16, shape=(rows, 1024, 1024))
    base = (np.add.outer(np.arange(1024), np.arange(1024)) * 16).astype(np.uint16)
    noise = np.random.default_rng(7).integers(0, 64, (1024, 1024), dtype=np.uint16)
    digest = hashlib.sha256()
    for i in range(rows):
        array[i] = base + np.roll(noise, i * 37) + i
        digest.update(array[i].tobytes())
    array.flush()
    del array
    return digest.hexdigest()


def convert_in_child(settings: Settings, dataset: str) -> tuple[dict, int]:
    """Convert in a fresh process; its result and its peak RSS in MB."""
    command = [sys.executable, "-c", CHILD, json.dumps(settings.to_dict()), dataset]
    done = subprocess.run(command, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return report["result"], report["peak_mb"]


@pytest.mark.slow
def test_peak_rss_does_not_grow_with_the_dataset(settings: Settings) -> None:
    peaks = {}
    for megabytes in (64, 512):
        dataset = f"memory-{megabytes}"
        source = Path(settings.in_data_dir) / dataset
        source.mkdir()
        expected = write_npy(source / "volume.npy", megabytes)
        result, peaks[megabytes] = convert_in_child(settings, dataset)
        output = Path(settings.out_data_dir) / dataset / "visus.idx"
        assert result["shape"][0] == megabytes // 2
        assert result["data_sha256"] == expected == idx_checksum(output)  # read back through OpenVisus
        assert len(list((output.parent / "visus").iterdir())) >= megabytes // 64
        (source / "volume.npy").unlink()
    # 8x the data, not 8x the memory: at most the slabs in flight differ (the small input is one slab)
    assert peaks[512] <= peaks[64] + 1.25 * idx_module.SLAB_BYTES / MB, peaks
    assert peaks[512] <= 400, peaks


def test_a_multi_page_tiff_is_read_page_by_page(jobs, monkeypatch: pytest.MonkeyPatch) -> None:
    tifffile = pytest.importorskip("tifffile")
    monkeypatch.setattr(idx_module, "SLAB_BYTES", 3 * 40 * 50 * 2)  # three pages a slab
    data = (np.arange(11 * 40 * 50) % 3001).astype(np.uint16).reshape(11, 40, 50)
    jobs.input_dir.mkdir()
    tifffile.imwrite(jobs.input_dir / "stack.tif", data)  # one file, one page per slice
    from sccli.handlers.readers import open_volume

    volume = open_volume("tiff", jobs.input_dir, {}, "TIFF")
    assert volume.details.get("pages") == 11 and volume.shape == (11, 40, 50)
    reads = []
    original = volume.read_slab
    volume.read_slab = lambda a, b: reads.append((a, b)) or original(a, b)
    assert np.array_equal(np.concatenate([slab for _, slab in volume.slabs(idx_module.SLAB_BYTES)]), data)
    assert reads == [(0, 3), (3, 6), (6, 9), (9, 11)]
    jobs.run("dataset_conversion", sensor_type="TIFF", conversion_params={"verify": "full"})
    assert np.array_equal(ov.LoadDataset(str(jobs.output_dir / "visus.idx")).read(), data)


def test_the_zip_level_setting_changes_the_bytes_not_the_data(jobs) -> None:
    data = (np.arange(20 * 64 * 96) % 4093).astype(np.uint16).reshape(20, 64, 96)
    jobs.input_dir.mkdir()
    np.save(jobs.input_dir / "cube.npy", data)
    sizes = {}
    for level in (1, 9):
        jobs.settings.conversion_zip_level = level
        result = jobs.run("dataset_conversion", sensor_type="NUMPY")
        sizes[level] = sum(p.stat().st_size for p in (jobs.output_dir / "visus").iterdir())
        assert np.array_equal(ov.LoadDataset(str(jobs.output_dir / "visus.idx")).read(), data)
        assert result["data_sha256"] == hashlib.sha256(data.tobytes()).hexdigest()
    assert sizes[1] != sizes[9]
