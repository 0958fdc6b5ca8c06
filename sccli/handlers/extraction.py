"""file_extraction: unpack zip, tar (gz, bz2, xz, zst) and 7z archives safely.

Parameters: ``archives`` (list of paths) or ``archive_path``; default: the archive named by
``input_path``, or every archive directly in the directory ``input_path`` (default
``<in_data_dir>/<uuid>``). ``destination`` (default ``<in_data_dir>/<uuid>``). Limits:
``max_total_bytes`` (50 GiB), ``max_entries`` (100000), ``max_ratio`` (200: output bytes per
archive byte), ``reserve_bytes`` (64 MiB kept free). ``remove_archives`` (false) deletes the
archives after a successful extraction.

Everything is extracted into ``<destination>/.extract.sc-partial-<job_id>`` first (see
:mod:`sccli.handlers.archives` for the checks); the finished tree is judged as a whole, as it will
be once merged into the destination (:func:`~sccli.handlers.containment.check_extracted_tree`:
every link resolved step by step must stay inside the data directories), and only then moved
into place; a refused archive leaves nothing behind. A damaged archive is a permanent failure
(no retry); a failing disk is not. the result lists only
the files this job extracted. The chained conversion gets ``input_path = destination``.
"""

from __future__ import annotations

import errno
import lzma
import os
import resource
import shutil
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

from sccli.errors import InvalidInput, ScError
from sccli.handlers.archives import (
    Budget,
    DamagedArchive,
    Limits,
    UnsafeArchive,
    Writer,
    archive_kind,
    extract_tar,
    extract_zip,
    is_archive,
    safe_name,
)
from sccli.handlers.base import HandlerError, JobContext
from sccli.handlers.containment import check_extracted_tree
from sccli.handlers.params import dataset_input, get_bool, get_int, get_str_list
from sccli.handlers.specs import check_parameters
from sccli.handlers.staging import PARTIAL_MARK, partial_path, remove_partials, remove_path, require_lease
from sccli.handlers.tools import require_tool, run_tool
from sccli.settings import Settings

JOB_TYPE = "file_extraction"
#: Words in 7z's output that mean the archive itself is broken (not the disk, not the tool).
DAMAGE_WORDS = (
    "Headers Error", "Data Error", "CRC Failed", "Can not open the file as archive", "Unexpected end", "Is not archive",
)

RESULT_FILE_LIMIT = 1000


def run(ctx: JobContext) -> dict[str, Any]:
    """Extract the archives; result: archives, files (relative to destination), bytes, duration."""
    started = time.monotonic()
    check_parameters(JOB_TYPE, ctx.params, ctx.settings)
    destination = ctx.confine(ctx.params.get("destination") or dataset_input(ctx))
    limits = _limits(ctx.params)
    remove = get_bool(ctx.params, "remove_archives", False)
    if remove and _removed_by_an_earlier_run(ctx, destination):
        return _already_done(destination, started)
    archives = _archives(ctx, destination)
    staging = partial_path(destination / "extract", ctx.attempt)
    created = not destination.exists()
    remove_path(staging)
    staging.mkdir(parents=True)
    total_in = sum(a.stat().st_size for a in archives)
    done = [0, time.monotonic()]

    def on_bytes(n: int) -> None:
        done[0] += n
        if time.monotonic() - done[1] > 0.5:
            done[1] = time.monotonic()
            ctx.progress(None, f"extracted {done[0] // 1_000_000} MB")

    files: list[str] = []
    written = 0
    try:
        for number, archive in enumerate(archives, 1):
            budget = Budget(limits, archive.stat().st_size, staging)
            ctx.progress(90.0 * (number - 1) / len(archives), f"extracting {archive.name}")
            extract_one(ctx, archive, Writer(staging, budget, on_bytes), budget)
            files += budget.files
            written += budget.bytes
            ctx.log.info("%s: %d entries, %d bytes", archive.name, budget.entries, budget.bytes)
        try:
            check_extracted_tree(staging, destination, ctx.scope)
        except InvalidInput as exc:
            raise UnsafeArchive(f"{', '.join(a.name for a in archives)}: {exc}") from None
        require_lease(destination, ctx)
        moved = move_into_place(staging, destination)
    except BaseException:
        remove_path(staging)
        if created and destination.is_dir() and not any(destination.iterdir()):
            destination.rmdir()
        raise
    finally:
        remove_path(staging)
    if remove:
        for archive in archives:
            archive.unlink(missing_ok=True)
    duration = round(time.monotonic() - started, 3)
    ctx.progress(100, "extracted")
    return {
        "status": "success",
        "message": f"extracted {len(files)} entries ({written} bytes) from {len(archives)} archive(s) in {duration}s",
        "extracted_from": [str(a) for a in archives],
        "destination": str(destination),
        "files": files[:RESULT_FILE_LIMIT],
        "file_count": len(files),
        "moved": moved,
        "bytes": written,
        "archive_bytes": total_in,
        "duration_seconds": duration,
        "mb_per_second": round(written / 1e6 / max(duration, 1e-6), 1),
        "next_parameters": {"input_path": str(destination)},
    }


def _removed_by_an_earlier_run(ctx: JobContext, destination: Path) -> bool:
    """A re-run of a finished ``remove_archives`` extraction: none of its archives is left and
    the destination holds what they became (handlers run at least once)."""
    named = get_str_list(ctx.params, "archives") + get_str_list(ctx.params, "archive_path")
    if named:
        gone = not any(ctx.confine(raw).exists() for raw in named)
    else:
        source = ctx.confine(ctx.params.get("input_path") or dataset_input(ctx))
        gone = source.is_dir() and not any(p.is_file() and is_archive(p) for p in source.iterdir())
    return gone and destination.is_dir() and any(p for p in destination.iterdir() if PARTIAL_MARK not in p.name)


def _already_done(destination: Path, started: float) -> dict[str, Any]:
    return {
        "status": "success",
        "message": f"nothing left to extract: an earlier run extracted and removed the archives into {destination}",
        "extracted_from": [], "destination": str(destination), "files": [], "file_count": 0, "moved": 0, "bytes": 0,
        "archive_bytes": 0, "duration_seconds": round(time.monotonic() - started, 3),
        "next_parameters": {"input_path": str(destination)},
    }


def _archives(ctx: JobContext, destination: Path) -> list[Path]:
    named = get_str_list(ctx.params, "archives") + get_str_list(ctx.params, "archive_path")
    if not named:
        source = ctx.confine(ctx.params.get("input_path") or dataset_input(ctx))
        if source.is_file():
            named = [str(source)]
        else:
            named = (
                [str(p) for p in sorted(source.iterdir()) if p.is_file() and is_archive(p)] if source.is_dir() else []
            )
        if not named:
            raise InvalidInput(f"no archives given and none found in {source}")
    archives = []
    for raw in named:
        path = ctx.confine(raw, must_exist=True)
        if not path.is_file():
            raise InvalidInput(f"{path} is not a file")
        archive_kind(path)
        archives.append(path)
    return archives


def _limits(params: dict[str, Any]) -> Limits:
    d = Limits()
    return Limits(
        max_total_bytes=get_int(params, "max_total_bytes", d.max_total_bytes, minimum=1),
        max_entries=get_int(params, "max_entries", d.max_entries, minimum=1),
        max_ratio=get_int(params, "max_ratio", d.max_ratio, minimum=1),
        reserve_bytes=get_int(params, "reserve_bytes", d.reserve_bytes, minimum=0),
    )


def extract_one(ctx: JobContext, archive: Path, writer: Writer, budget: Budget) -> None:
    kind = archive_kind(archive)
    try:
        if kind == "zip":
            extract_zip(archive, writer)
        elif kind == "7z":
            extract_7z(ctx, archive, writer.root, budget)
        else:
            extract_tar(archive, kind.partition(".")[2], writer)
    except UnsafeArchive as exc:
        raise UnsafeArchive(f"{archive.name}: {exc}") from None
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise DamagedArchive(f"{archive.name} is damaged: {exc}") from None
    except OSError as exc:
        if exc.errno is None:  # gzip's BadGzipFile, bz2's "Invalid data stream": the bytes, not the disk
            raise DamagedArchive(f"{archive.name} is damaged: {type(exc).__name__}: {exc}") from None
        if exc.errno == errno.ENAMETOOLONG:  # a member's name, not the disk: it fails the same way again
            raise UnsafeArchive(f"{archive.name}: a member's path is too long to write here ({exc.strerror})") from None
        raise HandlerError(f"{archive.name}: {type(exc).__name__}: {exc}") from None
    except Exception as exc:
        if _is_codec_error(exc):
            raise DamagedArchive(f"{archive.name} is damaged: {exc}") from None
        raise


def _is_codec_error(exc: BaseException) -> bool:
    """A decompressor's complaint about its input (zstandard, lz4 and lzma have their own types)."""
    return (
        isinstance(exc, lzma.LZMAError)
        or type(exc).__module__.startswith("zstandard")
        or "zstd" in type(exc).__name__.lower()
        or (isinstance(exc, RuntimeError) and str(exc).startswith("LZ4"))
    )


def list_7z(ctx: JobContext, archive: Path) -> list[dict[str, str]]:
    """The entries of a 7z archive from ``7z l -slt``."""
    lines = run_tool(
        ctx, [require_tool("7z"), "l", "-t7z", "-slt", "-ba", "-bd", "--", archive], quiet=lambda line: True, keep=None,
        classify=_classify_7z,
    )
    entries: list[dict[str, str]] = []
    for line in lines:
        key, sep, value = line.partition(" = ")
        if not sep:
            continue
        if key == "Path":
            entries.append({})
        if entries:
            entries[-1][key] = value
    return entries


def extract_7z(ctx: JobContext, archive: Path, root: Path, budget: Budget) -> None:
    """Check a 7z's listing, extract it with ``7z x`` under a file-size limit, then re-check
    what landed on disk (links, special files, real size)."""
    entries = list_7z(ctx, archive)
    links = set()
    for entry in entries:
        name = safe_name(entry.get("Path", ""))
        attrs = entry.get("Attributes", "")
        mode = attrs.split(" ")[-1] if " " in attrs else ""
        if mode[:1] in ("c", "b", "p", "s"):
            raise UnsafeArchive(f"{name!r} is a device file, FIFO or socket")
        if mode[:1] == "l":
            links.add(name)
        if any(name.startswith(link + "/") for link in links):
            raise UnsafeArchive(f"{name!r} would be written through the link in the archive")
    budget.check_declared(sum(int(e.get("Size") or 0) for e in entries), len(entries))
    limit = budget.limits.max_total_bytes

    def limit_file_size() -> None:  # runs in the 7z child: no single file may exceed the total limit
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    run_tool(
        ctx, [require_tool("7z"), "x", "-t7z", "-y", "-bd", "-bb0", f"-o{root}", "--", archive],
        preexec=limit_file_size, classify=_classify_7z,
    )
    audit_tree(root, budget)


def _classify_7z(code: int, lines: list[str]) -> type[ScError] | None:
    """7z exits 2 for a hostile or broken archive and for a failing disk alike: its words tell
    them apart (a hostile or broken archive is refused for good, the disk is retried)."""
    if code != 2:
        return None
    if any("Dangerous" in line for line in lines):
        return UnsafeArchive
    return DamagedArchive if any(word in line for line in lines for word in DAMAGE_WORDS) else None


def audit_tree(root: Path, budget: Budget) -> None:
    """After an external tool extracted: refuse links leaving ``root`` and special files; count."""
    real_root = os.path.realpath(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            if path.is_symlink():
                real = os.path.realpath(path)
                if os.readlink(path).startswith("/") or (real != real_root and not real.startswith(real_root + os.sep)):
                    raise UnsafeArchive(f"link {path.relative_to(root)} points outside the destination")
            elif not (path.is_dir() or path.is_file()):
                raise UnsafeArchive(f"{path.relative_to(root)} is a special file")
            if name in filenames:
                budget.entry(name)
                budget.files.append(path.relative_to(root).as_posix())
                if path.is_file() and not path.is_symlink():
                    budget.add(info.st_size)


def move_into_place(staging: Path, destination: Path) -> int:
    """Move the staged tree into ``destination`` (merging directories, replacing files)."""
    moved = 0
    for dirpath, dirnames, filenames in os.walk(staging):
        rel = Path(dirpath).relative_to(staging)
        target_dir = destination / rel
        if target_dir.is_symlink() or (target_dir.exists() and not target_dir.is_dir()):
            remove_path(target_dir)
        target_dir.mkdir(parents=True, exist_ok=True)
        for name in filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            target = target_dir / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(Path(dirpath) / name, target)
            moved += 1
    return moved


def cleanup(job: dict[str, Any], settings: Settings) -> None:
    """Remove the staging directory a killed extraction left."""
    remove_partials(job, settings, "destination")
