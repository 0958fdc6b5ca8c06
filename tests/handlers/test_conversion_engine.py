"""The deflate engine of a conversion's zip pass: ISA-L (package ``isal``) by default, writing
zlib streams that OpenVisus reads back exactly; zlib when asked for, at level -1, or when the
package is missing."""

from __future__ import annotations

import hashlib
import sys
import zlib

import pytest

from sccli.handlers.idxzip import block_compressor
from sccli.settings import Settings

np = pytest.importorskip("numpy")
ov = pytest.importorskip("OpenVisus")
pytest.importorskip("isal")


def test_isal_is_the_default_engine_of_a_conversion() -> None:
    assert Settings().conversion_zip_engine == "isal"
    assert block_compressor("isal", 1)[0] == "isal level 1"
    assert block_compressor("isal", 9)[0] == "isal level 3"  # ISA-L's highest
    assert block_compressor("isal", -1)[0] == "zlib level -1"  # OpenVisus' own bytes
    assert block_compressor("zlib", 1)[0] == "zlib level 1"


def test_every_engine_writes_a_stream_zlib_inflates() -> None:
    block = (np.arange(65536) % 4093).astype(np.uint16).tobytes()
    for engine in ("isal", "zlib"):
        for level in (-1, 0, 1, 3, 9):
            name, compress = block_compressor(engine, level)
            assert zlib.decompress(compress(block)) == block, name


def test_without_the_package_the_engine_is_zlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "isal", None)  # import isal raises ImportError
    name, compress = block_compressor("isal", 1)
    assert name == "zlib level 1" and compress(b"x" * 1000) == zlib.compress(b"x" * 1000, 1)


@pytest.mark.parametrize("engine", ["isal", "zlib"])
def test_a_conversion_reads_back_equal_with_either_engine(jobs, engine: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    rng = np.random.default_rng(3)
    gradient = np.add.outer(np.arange(96), np.arange(80)) * 16
    data = (gradient[None] + rng.integers(0, 64, (30, 96, 80))).astype(np.uint16)
    jobs.input_dir.mkdir()
    np.save(jobs.input_dir / "cube.npy", data)
    jobs.settings.conversion_zip_engine = engine
    result = jobs.run("dataset_conversion", sensor_type="NUMPY", conversion_params={"verify": "full"})
    assert "default_compression(zip)" in (jobs.output_dir / "visus.idx").read_text()
    assert np.array_equal(ov.LoadDataset(str(jobs.output_dir / "visus.idx")).read(), data)
    assert result["data_sha256"] == hashlib.sha256(data.tobytes()).hexdigest()
    assert result["output_bytes"] < data.nbytes  # compressed, not left raw
    assert f"by {engine} level 1" in caplog.text
    assert "wrote 30 rows in " in caplog.text and "zipped 1 data files in " in caplog.text  # each phase's time
    assert "(CPU " in caplog.text


def test_slabs_do_not_pile_up_behind_a_slow_hash(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A starved hash thread (a loaded machine) must not let the reader run ahead: at most the
    slab being written and the one being read are alive, whatever the hash's speed."""
    import time
    import types
    import weakref

    from sccli.handlers import idx as idx_module
    from sccli.handlers.readers import open_volume

    class SlowDigest:
        def __init__(self) -> None:
            self.inner = hashlib.sha256()

        def update(self, data) -> None:
            time.sleep(0.05)  # a hash thread that gets the core late
            self.inner.update(data)

        def hexdigest(self) -> str:
            return self.inner.hexdigest()

    monkeypatch.setattr(idx_module, "hashlib", types.SimpleNamespace(sha256=SlowDigest))
    data = (np.arange(24 * 32 * 40) % 977).astype(np.uint16).reshape(24, 32, 40)
    (tmp_path / "in").mkdir()
    np.save(tmp_path / "in" / "cube.npy", data)
    volume = open_volume("npy", tmp_path / "in", {}, "NUMPY")
    refs: list[weakref.ref] = []
    most = []
    slabs = volume.slabs

    def watched(slab_bytes: int):
        for start, slab in slabs(slab_bytes):
            refs.append(weakref.ref(slab))
            most.append(sum(ref() is not None for ref in refs))
            yield start, slab

    monkeypatch.setattr(volume, "slabs", watched)
    out = tmp_path / "out" / "visus.idx"
    written = idx_module.write_volume(volume, out, compression="raw", slab_bytes=2 * 32 * 40 * 2)  # 2 rows a slab
    assert written["data_sha256"] == hashlib.sha256(data.tobytes()).hexdigest()
    assert len(most) == 12 and max(most) <= 2, most
