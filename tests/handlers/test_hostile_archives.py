"""A hostile-archive suite: every archive below is generated here and must be refused as a
whole, whatever the order of its members, with nothing written outside the data directories and
nothing half-extracted inside them."""

from __future__ import annotations

import io
import itertools
import os
import stat
import subprocess
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from sccli.errors import InvalidInput, is_permanent
from tests.handlers.conftest import has_partial, need_tool

#: A member: (kind, name, target or data); kinds: dir, file, sym, hard, chr, blk, fifo.
Member = tuple[str, str, Any]

#: Member sets that escape in some way; each is tried in every order of its members.
ESCAPES_IN_ANY_ORDER: dict[str, list[Member]] = {
    # harmless when written, escapes once "d -> ." exists (four levels up: out of the data dirs)
    "dot-after-harmless": [("sym", "x", "d/d/d/d/../../../.."), ("sym", "d", "."), ("file", "f.txt", b"ok")],
    # a chain: a -> b -> c/c/c, c -> . ; a goes up from wherever b really is
    "chain": [("sym", "a", "b/../../../.."), ("sym", "b", "c/c/c"), ("sym", "c", ".")],
    # a link to the parent, and a file written through it
    "link-to-parent": [("sym", "p", ".."), ("file", "p/evil.txt", b"pwned")],
    "write-through-later-link": [
        ("dir", "sub", None), ("sym", "sub/l", "../../../../outside"), ("file", "sub/l/evil.txt", b"x"),
    ],
    "hard-via-link": [("sym", "d", "."), ("hard", "h", "d/../../../outside/secret.txt")],
}

#: Single-member (or fixed-order) refusals.
REFUSED: dict[str, list[Member]] = {
    "up": [("sym", "up", "../../..")],
    "up-deep": [("dir", "a", None), ("sym", "a/b", "../../../../..")],
    "absolute-target": [("sym", "abs", "/etc")],
    "absolute-target-inside": [("sym", "abs", "{data}")],
    "absolute-name": [("file", "/tmp/evil.txt", b"x")],
    "dotdot-name": [("file", "ok/../../evil.txt", b"x")],
    "hard-absolute": [("hard", "h", "/etc/passwd")],
    "hard-dotdot": [("hard", "h", "../../outside/secret.txt")],
    "hard-missing": [("hard", "h", "nothing-here")],
    "char-device": [("chr", "dev", None)],
    "block-device": [("blk", "disk", None)],
    "fifo": [("fifo", "pipe", None)],
    "dash-file": [("file", "-rf", b"x")],
    "dash-dir": [("dir", "sub/--help", None)],
    "dash-link": [("file", "a", b"x"), ("sym", "-a", "a")],
    "file-replaces-dir": [("dir", "d", None), ("file", "d", b"x")],
    "link-replaces-dir": [("dir", "d", None), ("sym", "d", ".")],
}

ZIP_KINDS = {"dir", "file", "sym"}


def tar_member(kind: str, name: str, value: Any) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = {"dir": tarfile.DIRTYPE, "file": tarfile.REGTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE,
                 "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE}[kind]
    info.mode = 0o755 if kind == "dir" else 0o644
    if kind in ("sym", "hard"):
        info.linkname = value
    data = value if kind == "file" else None
    if data is not None:
        info.size = len(data)
    return info, data


def write_tar(path: Path, members: list[Member], mode: str) -> Path:
    with tarfile.open(path, mode) as tar:
        for member in members:
            info, data = tar_member(*member)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def write_tar_zst(path: Path, members: list[Member]) -> Path:
    import zstandard

    plain = write_tar(path.with_suffix(".plain"), members, "w")
    path.write_bytes(zstandard.ZstdCompressor().compress(plain.read_bytes()))
    plain.unlink()
    return path


def write_tar_lz4(path: Path, members: list[Member]) -> Path:
    import lz4.frame

    plain = write_tar(path.with_suffix(".plain"), members, "w")
    path.write_bytes(lz4.frame.compress(plain.read_bytes()))
    plain.unlink()
    return path


def write_zip(path: Path, members: list[Member]) -> Path:
    """A zip whose link members are real symlink entries (S_IFLNK in the external attributes)."""
    with zipfile.ZipFile(path, "w") as zf:
        for kind, name, value in members:
            info = zipfile.ZipInfo(name + ("/" if kind == "dir" else ""))
            mode = {"dir": stat.S_IFDIR | 0o755, "file": stat.S_IFREG | 0o644, "sym": stat.S_IFLNK | 0o777}[kind]
            info.external_attr = mode << 16 | (0x10 if kind == "dir" else 0)
            zf.writestr(info, value if kind == "file" else value.encode() if kind == "sym" else b"")
    return path


FORMATS = {
    "tar": lambda p, m: write_tar(p.with_name(p.name + ".tar"), m, "w"),
    "tar.gz": lambda p, m: write_tar(p.with_name(p.name + ".tar.gz"), m, "w:gz"),
    "tar.bz2": lambda p, m: write_tar(p.with_name(p.name + ".tar.bz2"), m, "w:bz2"),
    "tar.xz": lambda p, m: write_tar(p.with_name(p.name + ".tar.xz"), m, "w:xz"),
    "tar.zst": lambda p, m: write_tar_zst(p.with_name(p.name + ".tar.zst"), m),
    "tar.lz4": lambda p, m: write_tar_lz4(p.with_name(p.name + ".tar.lz4"), m),
    "zip": lambda p, m: write_zip(p.with_name(p.name + ".zip"), m),
}


def cases() -> list[tuple[str, list[Member]]]:
    found = list(REFUSED.items())
    for label, members in ESCAPES_IN_ANY_ORDER.items():
        for number, order in enumerate(itertools.permutations(members)):
            found.append((f"{label}#{number}", list(order)))
    return found


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


class Arena:
    """A dataset with a pre-existing file, a directory outside the data dirs with a secret, and
    the bookkeeping to show that a refusal changed nothing anywhere."""

    def __init__(self, jobs: Any, tmp_path: Path) -> None:
        self.jobs = jobs
        self.tmp_path = tmp_path
        self.outside = tmp_path / "outside"
        self.outside.mkdir(exist_ok=True)
        (self.outside / "secret.txt").write_text("secret")
        jobs.input_dir.mkdir(exist_ok=True)
        (jobs.input_dir / "kept.txt").write_text("kept")
        self.tried = self.refused = 0

    def fill(self, members: list[Member]) -> list[Member]:
        data = str(Path(self.jobs.settings.in_data_dir))
        return [(k, n, v.replace("{data}", data) if isinstance(v, str) else v) for k, n, v in members]

    def attempt(self, archive: Path) -> None:
        before = snapshot(self.tmp_path) - {str(archive.relative_to(self.tmp_path))}
        self.tried += 1
        with pytest.raises(InvalidInput) as err:
            self.jobs.run("file_extraction", archive_path=str(archive))
        assert is_permanent(err.value)
        archive.unlink()
        assert sorted(p.name for p in self.jobs.input_dir.iterdir()) == ["kept.txt"], f"{archive.name}: {err.value}"
        assert (self.jobs.input_dir / "kept.txt").read_text() == "kept"
        assert sorted(p.name for p in self.outside.iterdir()) == ["secret.txt"]
        assert (self.outside / "secret.txt").read_text() == "secret"
        assert not has_partial(self.tmp_path)
        assert snapshot(self.tmp_path) == before, f"{archive.name} left files behind"
        self.refused += 1


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_hostile_archives_refused_whole(jobs, tmp_path, fmt, capsys):
    arena = Arena(jobs, tmp_path)
    for label, members in cases():
        members = arena.fill(members)
        if fmt == "zip" and any(kind not in ZIP_KINDS for kind, _, _ in members):
            continue
        archive = FORMATS[fmt](jobs.input_dir / label.replace("#", "-"), members)
        arena.attempt(archive)
    assert arena.tried == arena.refused > 0
    with capsys.disabled():
        print(f"\n[hostile {fmt}] tried {arena.tried}, refused cleanly {arena.refused}")


def test_existing_link_in_destination_is_judged_with_the_archive(jobs, tmp_path):
    """A link placed in the destination some other way joins the final tree: an archive link
    going through it is refused, though it looked harmless in the staging tree alone."""
    arena = Arena(jobs, tmp_path)
    (jobs.input_dir / "d").symlink_to(arena.outside)
    archive = write_tar(jobs.input_dir / "through.tar", [("sym", "x", "d/secret.txt")], "w")
    with pytest.raises(InvalidInput, match="outside the data directories"):
        jobs.run("file_extraction", archive_path=str(archive))
    assert sorted(p.name for p in jobs.input_dir.iterdir()) == ["d", "kept.txt", "through.tar"]


def test_harmless_links_and_hard_links_still_extract(jobs, tmp_path):
    members: list[Member] = [
        ("dir", "sub", None), ("file", "sub/a.txt", b"alpha"), ("sym", "sub/b", "a.txt"), ("sym", "top", "sub/a.txt"),
        ("hard", "h.txt", "sub/a.txt"), ("sym", "here", "."), ("sym", "loop", "here/here/sub"),
    ]
    for order in itertools.permutations(members[2:]):
        jobs.input_dir.mkdir(exist_ok=True)
        archive = write_tar(jobs.input_dir / "ok.tar", members[:2] + list(order), "w")
        jobs.run("file_extraction", archive_path=str(archive))
        assert (jobs.input_dir / "top").read_bytes() == b"alpha" and (jobs.input_dir / "h.txt").read_bytes() == b"alpha"
        assert (jobs.input_dir / "loop" / "a.txt").read_bytes() == b"alpha"
        for path in jobs.input_dir.iterdir():
            if path.is_dir() and not path.is_symlink():
                import shutil

                shutil.rmtree(path)
            else:
                path.unlink()


@pytest.mark.parametrize("fmt", ["tar", "zip"])
def test_special_bits_are_stripped(jobs, fmt):
    jobs.input_dir.mkdir()
    if fmt == "tar":
        archive = jobs.input_dir / "bits.tar"
        with tarfile.open(archive, "w") as tar:
            for name, mode, kind in (
                ("suid", 0o4755, tarfile.REGTYPE), ("sgid", 0o2755, tarfile.REGTYPE),
                ("sticky", 0o1777, tarfile.DIRTYPE),
            ):
                info = tarfile.TarInfo(name)
                info.type, info.mode = kind, mode
                tar.addfile(info, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
    else:
        archive = jobs.input_dir / "bits.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for name, mode in (("suid", 0o4755), ("sgid", 0o2755)):
                info = zipfile.ZipInfo(name)
                info.external_attr = (stat.S_IFREG | mode) << 16
                zf.writestr(info, b"#!/bin/sh\n")
    jobs.run("file_extraction", archive_path=str(archive))
    for path in jobs.input_dir.rglob("*"):
        assert not path.lstat().st_mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX), path


def seven_zip(archive: Path, src: Path, *names: str) -> Path:
    subprocess.run(["7z", "a", "-snl", str(archive), "--", *names], cwd=src, check=True, capture_output=True)
    return archive


def test_hostile_7z_refused(jobs, tmp_path, capsys):
    need_tool("7z")
    arena = Arena(jobs, tmp_path)
    trees = {
        "absolute": {"out": "/etc"},
        "up": {"up": "../../.."},
        "dot-after-harmless": {"x": "d/d/d/d/../../../..", "d": "."},
        "chain": {"a": "b/../../../..", "b": "c/c/c", "c": "."},
        "dash": {"-rf": None},
    }
    for label, entries in trees.items():
        src = tmp_path / f"src-{label}"
        src.mkdir()
        for name, target in entries.items():
            if target is None:
                (src / name).write_text("x")
            else:
                (src / name).symlink_to(target)
        arena.attempt(seven_zip(jobs.input_dir / f"{label}.7z", src, *entries))
    setuid_src = tmp_path / "src-setuid"
    setuid_src.mkdir()
    (setuid_src / "tool").write_text("#!/bin/sh\n")
    os.chmod(setuid_src / "tool", 0o4755)
    jobs.run("file_extraction", archive_path=str(seven_zip(jobs.input_dir / "setuid.7z", setuid_src, "tool")))
    assert not (jobs.input_dir / "tool").stat().st_mode & stat.S_ISUID
    with capsys.disabled():
        print(f"\n[hostile 7z] tried {arena.tried}, refused cleanly {arena.refused}")
