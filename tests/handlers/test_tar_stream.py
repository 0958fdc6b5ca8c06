"""tar.zst extraction reads member data as views of one reused buffer, filled by a ``zstd -dc``
process (or by the zstandard module when the command is missing; every test runs both ways):
members of every size around the tar block and the buffer edges come out whole, a multi-frame
stream is read whole, and a stream cut short, with a bad checksum or with junk after it fails as
damaged, leaving nothing behind and no decompressor running."""

from __future__ import annotations

import io
import os
import shutil
import tarfile

import psutil
import pytest

from sccli.handlers import tarstream
from sccli.handlers.archives import PREFETCH_CHUNK, DamagedArchive, UnsafeArchive
from sccli.handlers.tarstream import BLOCK_BUFFER, BlockReader
from tests.handlers.conftest import has_partial

zstandard = pytest.importorskip("zstandard")

SIZES = [0, 1, 511, 512, 513, 1024, 4096 * 3 + 5]
SIZES += [PREFETCH_CHUNK - 1, PREFETCH_CHUNK, PREFETCH_CHUNK + 7, 2 * PREFETCH_CHUNK + 512]  # around the chunk edges
SIZES += [BLOCK_BUFFER - 512, BLOCK_BUFFER - 1, BLOCK_BUFFER + 1]  # around the reused buffer's edge


@pytest.fixture(autouse=True, params=["zstd-command", "zstandard-module"])
def decompressor(request, monkeypatch) -> str:
    """Every test runs with the zstd command and with the module (the command hidden)."""
    if request.param == "zstd-command":
        if shutil.which("zstd") is None:
            pytest.skip("the 'zstd' command is not installed (scripts/install-tools.sh installs it)")
    else:
        monkeypatch.setattr(tarstream, "zstd_tool", lambda: None)
    return str(request.param)


def no_decompressor_left() -> bool:
    """No zstd process of this test is still running (a refused archive must not leave one)."""
    return not [p for p in psutil.Process().children(recursive=True) if p.name() == "zstd" and p.status() != "zombie"]


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
    assert no_decompressor_left()


def test_a_stream_of_several_frames_is_read_whole(jobs) -> None:
    """pzstd and concatenated .zst files hold several frames; ``zstd -dc`` and tar read them all."""
    members = {"a.bin": os.urandom(3000), "b.bin": os.urandom(BLOCK_BUFFER + 99)}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    plain = buf.getvalue()
    cut = len(plain) // 3  # two frames, cut at an arbitrary byte
    whole = zstandard.ZstdCompressor().compress(plain[:cut]) + zstandard.ZstdCompressor().compress(plain[cut:])
    jobs.input_dir.mkdir()
    (jobs.input_dir / "frames.tar.zst").write_bytes(whole)
    assert jobs.run("file_extraction")["status"] == "success"
    for name, data in members.items():
        assert (jobs.input_dir / name).read_bytes() == data, name


@pytest.mark.parametrize("damage", ["bad checksum", "junk after the frame"])
def test_a_damaged_end_of_stream_fails_as_damaged(jobs, damage: str) -> None:
    """The damage lies after the tar's last member: only reading the stream to its end finds it."""
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("only.bin")
        info.size = 5000
        tar.addfile(info, io.BytesIO(os.urandom(5000)))
    data = bytearray(zstandard.ZstdCompressor(write_checksum=True).compress(plain.getvalue()))
    if damage == "bad checksum":
        data[-1] ^= 0xFF  # the frame's content checksum: its last 4 bytes
    else:
        data += b"this is not a zstd frame" * 10
    jobs.input_dir.mkdir()
    (jobs.input_dir / "end.tar.zst").write_bytes(bytes(data))
    with pytest.raises(DamagedArchive):
        jobs.run("file_extraction")
    assert sorted(p.name for p in jobs.input_dir.iterdir()) == ["end.tar.zst"]
    assert not has_partial(jobs.input_dir)


def test_a_refused_archive_stops_its_decompressor(jobs) -> None:
    """A bomb is refused half-way (max_ratio): the zstd process feeding it is stopped and reaped."""
    members = {f"zero{i}.bin": bytes(8 * BLOCK_BUFFER) for i in range(4)}
    jobs.input_dir.mkdir()
    (jobs.input_dir / "bomb.tar.zst").write_bytes(tar_zst(members))
    with pytest.raises(UnsafeArchive, match="max_ratio"):
        jobs.run("file_extraction", max_ratio=20)
    assert not has_partial(jobs.input_dir)
    assert no_decompressor_left()


def test_member_data_are_views_of_one_reused_buffer() -> None:
    """No copy per block: every view handed out points into the same buffer."""
    source = io.BytesIO(bytes(range(256)) * 40000)
    reader = BlockReader(source.readinto, size=4096)
    header = reader.read(512)
    views = [reader.read_view(1 << 20) for _ in range(5)]
    assert header == bytes(range(256)) * 2
    assert all(view.obj is views[0].obj for view in views) and views[0].obj is reader.view.obj
    assert [len(v) for v in views] == [4096 - 512, 4096, 4096, 4096, 4096]
    assert reader.tell() == 512 + sum(map(len, views))
