"""file_extraction: real zip / tar.gz / tar.zst / 7z archives, and every refusal."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from sccli.errors import InvalidInput
from sccli.handlers.archives import UnsafeArchive
from tests.handlers.conftest import has_partial, kill_midway, need_tool, slow_writes


def sample_tree(root: Path) -> dict[str, bytes]:
    files = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(5000), "sub/deeper/c.txt": b"gamma" * 100}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def tar_with(path: Path, mode: str, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def info(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type, member.linkname = kind, linkname
    return member


def assert_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        assert (root / rel).read_bytes() == data, rel


@pytest.mark.parametrize("fmt", ["zip", "tar.gz", "tar.zst", "tar.bz2", "tar.xz", "7z"])
def test_extracts_real_archives(jobs, tmp_path, fmt):
    src = tmp_path / "src"
    files = sample_tree(src)
    (src / "link").symlink_to("a.txt")
    jobs.input_dir.mkdir()
    archive = jobs.input_dir / f"data.{fmt}"
    if fmt == "zip":
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for rel in files:
                zf.write(src / rel, rel)
    elif fmt == "7z":
        need_tool("7z")
        subprocess.run(["7z", "a", "-snl", str(archive), "."], cwd=src, check=True, capture_output=True)
    elif fmt == "tar.zst":
        import zstandard

        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.add(src, ".")
        archive.write_bytes(zstandard.ZstdCompressor().compress(buf.getvalue()))
    else:
        with tarfile.open(archive, "w:" + fmt.split(".")[1]) as tar:
            tar.add(src, ".")
    (jobs.input_dir / "already-there.txt").write_text("kept")
    result = jobs.run("file_extraction")
    assert result["status"] == "success"
    assert_tree(jobs.input_dir, files)
    assert "already-there.txt" not in result["files"] and "a.txt" in result["files"]
    assert (jobs.input_dir / "already-there.txt").read_text() == "kept"
    if fmt != "zip":
        assert os.readlink(jobs.input_dir / "link") == "a.txt"
    assert result["next_parameters"] == {"input_path": str(jobs.input_dir)}
    assert not has_partial(jobs.input_dir)


def test_zip_slip_and_absolute_names_refused(jobs):
    jobs.input_dir.mkdir()
    for name in ("../evil.txt", "/etc/evil.txt", "ok/../../evil.txt", "C:\\evil.txt"):
        archive = jobs.input_dir / "slip.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("fine.txt", "ok")
            zf.writestr(zipfile.ZipInfo(name), "pwned")
        with pytest.raises(UnsafeArchive):
            jobs.run("file_extraction", archive_path=str(archive))
    assert not (jobs.input_dir.parent / "evil.txt").exists()
    assert not (jobs.input_dir / "fine.txt").exists()
    assert not has_partial(jobs.input_dir)


def test_links_that_escape_and_writes_through_links_refused(jobs, tmp_path):
    jobs.input_dir.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    cases = [
        [(info("up", tarfile.SYMTYPE, "../../.."), None)],
        [(info("abs", tarfile.SYMTYPE, str(outside)), None)],
        # a link that is lexically inside but really outside once the first link is followed
        [(info("here", tarfile.SYMTYPE, "."), None), (info("here/x", tarfile.SYMTYPE, "../../outside"), None)],
        # a file member replacing a link that points outside
        [(info("sub", tarfile.DIRTYPE), None), (info("sub/l", tarfile.SYMTYPE, "../x"), None), (info("sub/l"), b"x")],
        [(info("hard", tarfile.LNKTYPE, "../../outside/secret"), None)],
        [(info("dev", tarfile.CHRTYPE), None)],
        [(info("fifo", tarfile.FIFOTYPE), None)],
    ]
    for number, members in enumerate(cases):
        archive = tar_with(jobs.input_dir / f"case{number}.tar", "w", members)
        with pytest.raises(UnsafeArchive):
            jobs.run("file_extraction", archive_path=str(archive))
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in jobs.input_dir.iterdir()) == sorted(f"case{n}.tar" for n in range(len(cases)))


def test_zip_bombs_refused(jobs):
    jobs.input_dir.mkdir()
    zeros = b"\0" * (20 * 1024 * 1024)
    bomb = jobs.input_dir / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", zeros)
    with pytest.raises(UnsafeArchive, match="max_ratio"):
        jobs.run("file_extraction", archive_path=str(bomb))
    # a streamed tar.gz has no declared sizes: the running count stops it
    gz = tar_with(jobs.input_dir / "bomb.tar.gz", "w:gz", [(info("zeros.bin"), zeros)])
    with pytest.raises(UnsafeArchive, match="max_ratio"):
        jobs.run("file_extraction", archive_path=str(gz))
    with pytest.raises(UnsafeArchive, match="max_total_bytes"):
        jobs.run("file_extraction", archive_path=str(gz), max_total_bytes=1_000_000, max_ratio=100000)
    many = jobs.input_dir / "many.zip"
    with zipfile.ZipFile(many, "w") as zf:
        for i in range(30):
            zf.writestr(f"f{i}.txt", "x")
    with pytest.raises(UnsafeArchive, match="max_entries"):
        jobs.run("file_extraction", archive_path=str(many), max_entries=10)
    assert not (jobs.input_dir / "zeros.bin").exists() and not has_partial(jobs.input_dir)


def test_7z_checks(jobs, tmp_path):
    need_tool("7z")
    jobs.input_dir.mkdir()
    src = tmp_path / "src7"
    src.mkdir()
    (src / "zeros.bin").write_bytes(b"\0" * (8 * 1024 * 1024))
    (src / "out").symlink_to("/etc")
    bomb = jobs.input_dir / "bomb.7z"
    subprocess.run(["7z", "a", str(bomb), "zeros.bin"], cwd=src, check=True, capture_output=True)
    with pytest.raises(UnsafeArchive, match="max_ratio"):
        jobs.run("file_extraction", archive_path=str(bomb))
    escape = jobs.input_dir / "escape.7z"
    subprocess.run(["7z", "a", "-snl", str(escape), "out"], cwd=src, check=True, capture_output=True)
    with pytest.raises(UnsafeArchive, match="outside"):
        jobs.run("file_extraction", archive_path=str(escape))
    assert not (jobs.input_dir / "out").exists() and not has_partial(jobs.input_dir)


def test_parameter_refusals(jobs, tmp_path):
    jobs.input_dir.mkdir()
    with pytest.raises(InvalidInput, match="outside"):
        jobs.run("file_extraction", archive_path=str(tmp_path / "elsewhere.zip"))
    (jobs.input_dir / "notes.rar").write_bytes(b"x")
    with pytest.raises(InvalidInput, match="not a supported archive"):
        jobs.run("file_extraction", archive_path=str(jobs.input_dir / "notes.rar"))
    with pytest.raises(InvalidInput, match="outside"):
        jobs.run("file_extraction", archive_path=str(jobs.input_dir / "notes.rar"), destination="/tmp")
    with pytest.raises(InvalidInput, match="max_ratio"):
        jobs.run("file_extraction", archive_path=str(jobs.input_dir / "notes.rar"), max_ratio="big")


def test_cancel_leaves_no_partial_output(jobs):
    jobs.input_dir.mkdir()
    archive = jobs.input_dir / "slow.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(40):
            zf.writestr(f"part{i}.bin", os.urandom(2048))
    job = jobs.job("file_extraction", archive_path=str(archive))
    staged = lambda: any(p.is_file() for p in jobs.input_dir.glob(".*sc-partial-*/*"))  # noqa: E731
    kill_midway(jobs, job, staged, setup=slow_writes("sccli.handlers.archives", "Budget.add"))
    assert sorted(p.name for p in jobs.input_dir.iterdir()) == ["slow.zip"]
    assert stat.S_ISREG(archive.stat().st_mode)


@pytest.mark.parametrize("suffix", ["zip", "tar", "tar.gz", "tar.bz2", "tar.xz", "tar.zst", "tar.lz4"])
def test_damaged_archives_fail_cleanly(jobs, settings, suffix):
    archive = Path(settings.sync_data_dir) / f"damaged.{suffix}"
    archive.write_bytes(os.urandom(3000))
    from sccli.errors import is_permanent
    from sccli.handlers.archives import DamagedArchive

    with pytest.raises(DamagedArchive, match="damaged|Gzip|Invalid data") as err:
        jobs.run("file_extraction", archive_path=str(archive))
    assert is_permanent(err.value)
    assert not jobs.input_dir.exists()
