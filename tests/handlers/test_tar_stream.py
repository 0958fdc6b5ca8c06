"""tar.zst extraction reads member data straight from the prefetch thread's chunks: members of
every size around the tar block and the chunk edges come out whole, and a stream cut short in
the middle of a member fails as damaged, leaving nothing behind."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from sccli.handlers.archives import PREFETCH_CHUNK, DamagedArchive
from tests.handlers.conftest import has_partial

zstandard = pytest.importorskip("zstandard")

SIZES = [0, 1, 511, 512, 513, 1024, 4096 * 3 + 5]
SIZES += [PREFETCH_CHUNK - 1, PREFETCH_CHUNK, PREFETCH_CHUNK + 7, 2 * PREFETCH_CHUNK + 512]  # around the chunk edges


def tar_zst(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return zstandard.ZstdCompressor(level=1).compress(buf.getvalue())


def test_members_of_every_size_come_out_whole(jobs) -> None:
    members = {f"dir/m{i:02d}-{size}.bin": os.urandom(size) for i, size in enumerate(SIZES)}
    jobs.input_dir.mkdir()
    (jobs.input_dir / "data.tar.zst").write_bytes(tar_zst(members))
    result = jobs.run("file_extraction")
    assert result["status"] == "success"
    for name, data in members.items():
        assert (jobs.input_dir / name).read_bytes() == data, name


def test_a_stream_cut_inside_a_member_fails_as_damaged(jobs) -> None:
    whole = tar_zst({"first.bin": os.urandom(1000), "big.bin": os.urandom(3 * PREFETCH_CHUNK)})
    jobs.input_dir.mkdir()
    (jobs.input_dir / "cut.tar.zst").write_bytes(whole[: len(whole) * 2 // 3])
    with pytest.raises(DamagedArchive):
        jobs.run("file_extraction")
    assert sorted(p.name for p in jobs.input_dir.iterdir()) == ["cut.tar.zst"]
    assert not has_partial(jobs.input_dir)
