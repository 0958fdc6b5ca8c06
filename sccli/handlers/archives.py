"""Safe archive extraction into a private staging directory.

Every member is checked before it is written: no absolute names, no ``..``, no drive letters,
no ``-``-prefixed names, no device files or FIFOs, links must stay inside the staging root
(checked on the real, symlink-resolved parent), nothing is written through a link, and no
setuid, setgid or sticky bit is written. The finished tree is then judged as a whole
(:func:`sccli.handlers.containment.check_extracted_tree`) before it is moved into place. A
:class:`Budget` counts entries and bytes as they are written, so a zip bomb is stopped by its
real output, whatever its headers claim, and the disk keeps a reserve.
"""

from __future__ import annotations

import os
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from sccli.errors import InvalidInput, PermanentError
from sccli.handlers.base import HandlerError
from sccli.handlers.staging import free_bytes
from sccli.handlers.tarstream import CHUNK, PREFETCH_CHUNK, MemberReader, Prefetcher, open_tar_stream

DISK_CHECK_EVERY = 64 * 1024 * 1024

__all__ = ["CHUNK", "PREFETCH_CHUNK", "MemberReader", "Prefetcher", "open_tar_stream"]  # tarstream, re-exported

TAR_SUFFIXES = {
    ".tar": "", ".tar.gz": "gz", ".tgz": "gz", ".tar.bz2": "bz2", ".tbz2": "bz2", ".tar.xz": "xz", ".txz": "xz",
    ".tar.zst": "zst", ".tzst": "zst", ".tar.lz4": "lz4",
}
ARCHIVE_SUFFIXES = (".zip", ".7z", *TAR_SUFFIXES)


class UnsafeArchive(InvalidInput):
    """An archive was refused: escaping names or links, device files, or a zip bomb."""


class DamagedArchive(PermanentError):
    """An archive cannot be read (bad headers, bad CRC, truncated): it fails the same way again."""


def archive_kind(path: Path) -> str:
    """``zip``, ``7z`` or ``tar`` (+ compression, e.g. ``tar.zst``) from the file name."""
    name = path.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(".7z"):
        return "7z"
    for suffix, comp in sorted(TAR_SUFFIXES.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return f"tar.{comp}" if comp else "tar"
    raise InvalidInput(f"{path.name}: not a supported archive ({', '.join(ARCHIVE_SUFFIXES)})")


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


#: Member names refused (UnsafeArchive: permanent, they fail the same way again): a part over NAME_MAX, or
#: nested or long enough that the staging path plus the name passes PATH_MAX (4096).
MAX_NAME_BYTES, MAX_MEMBER_BYTES, MAX_MEMBER_DEPTH = 255, 3072, 256


def safe_name(name: str) -> str:
    """A member name as a clean relative POSIX path, or UnsafeArchive."""
    if "\x00" in name:
        raise UnsafeArchive(f"member name with a NUL byte: {name!r}")
    text = name.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise UnsafeArchive(f"absolute member name {name!r}")
    parts = [p for p in PurePosixPath(text).parts if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafeArchive(f"member name with '..': {name!r}")
    if any(p.startswith("-") for p in parts):
        raise UnsafeArchive(f"member name starting with '-': {name!r}")
    clean = "/".join(parts)
    if max((len(p.encode("utf-8", "surrogateescape")) for p in parts), default=0) > MAX_NAME_BYTES:  # no disk holds it
        raise UnsafeArchive(f"member name with a part longer than {MAX_NAME_BYTES} bytes: {name[:80]!r}...")
    if len(parts) > MAX_MEMBER_DEPTH or len(clean.encode("utf-8", "surrogateescape")) > MAX_MEMBER_BYTES:
        raise UnsafeArchive(f"member name over {MAX_MEMBER_DEPTH} levels or {MAX_MEMBER_BYTES} bytes: {name[:80]!r}...")
    return clean


@dataclass
class Limits:
    """Zip-bomb limits: total bytes, entry count, output/input ratio, disk reserve."""

    max_total_bytes: int = 50 * 1024**3
    max_entries: int = 100_000
    max_ratio: int = 200
    reserve_bytes: int = 64 * 1024 * 1024


@dataclass
class Budget:
    """Running totals of one extraction, checked against :class:`Limits`."""

    limits: Limits
    archive_bytes: int
    root: Path
    entries: int = 0
    bytes: int = 0
    files: list[str] = field(default_factory=list)
    _next_disk_check: int = DISK_CHECK_EVERY

    def entry(self, name: str) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise UnsafeArchive(f"more than {self.limits.max_entries} entries (max_entries)")

    def add(self, n: int) -> None:
        self.bytes += n
        if self.bytes > self.limits.max_total_bytes:
            raise UnsafeArchive(f"expands past {self.limits.max_total_bytes} bytes (max_total_bytes)")
        if self.bytes > self.limits.max_ratio * max(self.archive_bytes, 1) and self.bytes > 1024 * 1024:
            raise UnsafeArchive(f"expands more than {self.limits.max_ratio}x its size (max_ratio): a zip bomb?")
        if self.bytes >= self._next_disk_check:
            self._next_disk_check += DISK_CHECK_EVERY
            if free_bytes(self.root) < self.limits.reserve_bytes:
                raise HandlerError(f"the disk under {self.root} is nearly full; extraction stopped")

    def check_declared(self, total: int, entries: int) -> None:
        """Refuse before writing when the archive's own headers already break the limits."""
        self.entry_count_check(entries)
        if total > self.limits.max_total_bytes:
            raise UnsafeArchive(f"declares {total} bytes, over max_total_bytes {self.limits.max_total_bytes}")
        if total > self.limits.max_ratio * max(self.archive_bytes, 1) and total > 1024 * 1024:
            raise UnsafeArchive(
                f"declares {total} bytes from {self.archive_bytes}: more than {self.limits.max_ratio}x (max_ratio)"
            )
        free = free_bytes(self.root)
        if total + self.limits.reserve_bytes > free:
            raise HandlerError(f"needs {total} bytes but only {free} are free under {self.root}")

    def entry_count_check(self, entries: int) -> None:
        if entries > self.limits.max_entries:
            raise UnsafeArchive(f"{entries} entries, over max_entries {self.limits.max_entries}")


class Writer:
    """Creates members under ``root`` after checking where they really land."""

    def __init__(self, root: Path, budget: Budget, on_bytes: Callable[[int], None] | None = None) -> None:
        self.root = root
        self.real_root = os.path.realpath(root)
        self.budget = budget
        self.on_bytes = on_bytes

    def _inside(self, real: str) -> bool:
        return real == self.real_root or real.startswith(self.real_root + os.sep)

    def _target(self, rel: str) -> Path:
        target = self.root / rel
        parent = os.path.realpath(target.parent)
        if not self._inside(parent):
            raise UnsafeArchive(f"{rel} would be written through a link outside the destination")
        if target.is_symlink():
            raise UnsafeArchive(f"{rel} would be written through a link")
        return target

    def _leaf(self, rel: str) -> Path:
        """The target of a file or link member: it must not replace a directory."""
        target = self._target(rel)
        if target.is_dir():
            raise UnsafeArchive(f"{rel} would replace a directory of the archive")
        return target

    def directory(self, name: str) -> None:
        rel = safe_name(name)
        self.budget.entry(rel)
        if rel:
            target = self._target(rel)
            if target.exists() and not target.is_dir():
                raise UnsafeArchive(f"directory {rel} would replace a file of the archive")
            target.mkdir(parents=True, exist_ok=True)

    def file(self, name: str, source: IO[bytes] | MemberReader, mode: int = 0o644) -> None:
        rel = safe_name(name)
        if not rel:
            raise UnsafeArchive(f"file member with an empty name: {name!r}")
        self.budget.entry(rel)
        self._target_parent(rel)
        target = self._leaf(rel)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, (mode & 0o777) | 0o600)
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(CHUNK):
                self.budget.add(len(chunk))
                out.write(chunk)
                if self.on_bytes is not None:
                    self.on_bytes(len(chunk))
        self.budget.files.append(rel)

    def symlink(self, name: str, link_target: str) -> None:
        rel = safe_name(name)
        self.budget.entry(rel)
        if not link_target or link_target.startswith("/") or "\x00" in link_target:
            raise UnsafeArchive(f"link {name!r} points to an absolute or empty path {link_target!r}")
        self._target_parent(rel)
        target = self._leaf(rel)
        real = os.path.realpath(os.path.join(os.path.realpath(target.parent), link_target))
        if not self._inside(real):
            raise UnsafeArchive(f"link {name!r} -> {link_target!r} points outside the destination")
        if target.exists() or target.is_symlink():
            target.unlink()
        os.symlink(link_target, target)
        self.budget.files.append(rel)

    def hardlink(self, name: str, link_target: str) -> None:
        rel, src_rel = safe_name(name), safe_name(link_target)
        self.budget.entry(rel)
        source = self.root / src_rel
        if not self._inside(os.path.realpath(source)) or not source.is_file():
            raise UnsafeArchive(f"hard link {name!r} -> {link_target!r} does not name an extracted file")
        self._target_parent(rel)
        target = self._leaf(rel)
        target.unlink(missing_ok=True)
        os.link(source, target, follow_symlinks=False)
        self.budget.files.append(rel)

    def _target_parent(self, rel: str) -> None:
        parent = (self.root / rel).parent
        if not self._inside(os.path.realpath(parent)):
            raise UnsafeArchive(f"{rel} would be written through a link outside the destination")
        parent.mkdir(parents=True, exist_ok=True)


def extract_zip(path: Path, writer: Writer) -> None:
    """Extract a zip with Python's zipfile (links recognised from their Unix mode)."""
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        writer.budget.check_declared(sum(i.file_size for i in infos), len(infos))
        for info in infos:
            mode = info.external_attr >> 16
            if info.is_dir():
                writer.directory(info.filename)
            elif stat.S_ISLNK(mode):
                if info.file_size > 4096:
                    raise UnsafeArchive(f"link {info.filename!r} has an oversized target")
                writer.symlink(info.filename, archive.read(info).decode("utf-8", "replace"))
            elif stat.S_IFMT(mode) and not stat.S_ISREG(mode):
                raise UnsafeArchive(f"{info.filename!r} is a special file (mode {oct(mode)})")
            else:
                with archive.open(info) as source:
                    writer.file(info.filename, source, mode or 0o644)


def extract_tar(path: Path, comp: str, writer: Writer) -> None:
    """Extract a (compressed) tar in one streaming pass, member by member."""
    archive, raw = open_tar_stream(path, comp)
    try:
        for member in iter_tar(archive):
            if member.isdir():
                writer.directory(member.name)
            elif member.issym():
                writer.symlink(member.name, member.linkname)
            elif member.islnk():
                writer.hardlink(member.name, member.linkname)
            elif member.isreg():
                prefetch = archive.fileobj
                if isinstance(prefetch, Prefetcher) and not member.issparse():
                    writer.file(member.name, MemberReader(prefetch, member), member.mode)
                    continue
                source = archive.extractfile(member)
                assert source is not None
                writer.file(member.name, source, member.mode)
            else:
                raise UnsafeArchive(f"{member.name!r} is a device file or FIFO")
    finally:
        archive.close()
        raw.close()


def iter_tar(archive: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    member = archive.next()
    while member is not None:
        yield member
        member = archive.next()
