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
    data = ((np.add.outer(np.arange(96), np.arange(80)) * 16)[None] + rng.integers(0, 64, (30, 96, 80))).astype(np.uint16)
    jobs.input_dir.mkdir()
    np.save(jobs.input_dir / "cube.npy", data)
    jobs.settings.conversion_zip_engine = engine
    result = jobs.run("dataset_conversion", sensor_type="NUMPY", conversion_params={"verify": "full"})
    assert "default_compression(zip)" in (jobs.output_dir / "visus.idx").read_text()
    assert np.array_equal(ov.LoadDataset(str(jobs.output_dir / "visus.idx")).read(), data)
    assert result["data_sha256"] == hashlib.sha256(data.tobytes()).hexdigest()
    assert result["output_bytes"] < data.nbytes  # compressed, not left raw
    assert f"by {engine} level 1" in caplog.text
