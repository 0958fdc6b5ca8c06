"""file_upload: copy files or directories into the dataset's storage directory, resumably,
verified by sha256.

Parameters: ``files`` (list of paths, files or directories, inside the data directories; or
``source_path``), ``destination`` (default ``<in_data_dir>/<uuid>``), or ``remote``
(``name:path``) to upload to an rclone remote defined in ``<auth_dir>/rclone.conf`` instead
(``rclone copy`` skips files already there, so a retry resumes; ``rclone check`` then compares
hashes, one way).

Each file is copied to ``.<name>.sc-partial-<job_id>`` beside its target; a retry of the same
job continues a partial copy from where it stopped (after checking the bytes already there
still match the source), a target that already has the source's sha256 is skipped, and each
copy is hashed while it is written and renamed only when it matches the source's hash.
Uploaded archives are listed under ``archives`` in the result, so the chain extracts them.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path
from typing import Any

from sccli.errors import InvalidInput, PermanentError
from sccli.handlers.archives import is_archive
from sccli.handlers.base import HandlerError, JobContext
from sccli.handlers.containment import open_nofollow
from sccli.handlers.manifest import CHUNK, sha256_file, walk_files
from sccli.handlers.params import dataset_input, get_str, get_str_list
from sccli.handlers.specs import check_parameters
from sccli.handlers.staging import partial_path, promote, remove_partials, require_free_space
from sccli.handlers.tools import require_tool, run_tool
from sccli.settings import Settings

JOB_TYPE = "file_upload"


def plan(ctx: JobContext, destination: Path) -> list[tuple[Path, Path]]:
    """(source file, target file) pairs for everything named in ``files``."""
    named = get_str_list(ctx.params, "files") + get_str_list(ctx.params, "source_path")
    if not named:
        raise InvalidInput("parameter 'files' (a list of files or directories to upload) is required")
    pairs: list[tuple[Path, Path]] = []
    for raw in named:
        source = ctx.confine(raw, must_exist=True)
        if source == destination or destination in source.parents or source in destination.parents:
            raise InvalidInput(f"{source} overlaps the destination {destination}")
        if source.is_dir():
            pairs += [(f, destination / source.name / f.relative_to(source)) for f in walk_files(source)]
        elif source.is_file():
            pairs.append((source, destination / source.name))
        else:
            raise InvalidInput(f"{source} is not a regular file or directory")
    return pairs


def copy_verified(source: Path, target: Path, job_id: str, on_bytes: Any) -> tuple[str, bool]:
    """Copy ``source`` to ``target`` through a resumable partial file; (sha256, copied?)."""
    want = sha256_file(source)
    if (
        target.is_file()
        and not target.is_symlink()
        and target.stat().st_size == source.stat().st_size
        and sha256_file(target) == want
    ):
        on_bytes(source.stat().st_size)
        return want, False
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target, job_id)
    offset, digest = _resume(source, partial)
    with open_nofollow(source) as src, open(partial, "ab" if offset else "wb") as out:
        src.seek(offset)
        on_bytes(offset)
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
            on_bytes(len(chunk))
        out.flush()
        os.fsync(out.fileno())
    if digest.hexdigest() != want:
        partial.unlink(missing_ok=True)
        raise HandlerError(f"{source.name}: sha256 of the copy differs from the source (source changed during upload?)")
    promote(partial, target)  # only while this attempt holds the lease
    return want, True


def _resume(source: Path, partial: Path) -> tuple[int, Any]:
    """(bytes of a previous attempt's partial copy that match the source, sha256 of them so far).

    A partial that does not match the source byte for byte is discarded."""
    digest = hashlib.sha256()
    if not partial.is_file() or partial.stat().st_size > source.stat().st_size:
        partial.unlink(missing_ok=True)
        return 0, digest
    size = 0
    with open(source, "rb") as src, open(partial, "rb") as part:
        while chunk := part.read(CHUNK):
            if src.read(len(chunk)) != chunk:
                partial.unlink()
                return 0, hashlib.sha256()
            digest.update(chunk)
            size += len(chunk)
    return size, digest


def run(ctx: JobContext) -> dict[str, Any]:
    """Upload; result: files, bytes, sha256 per file, skipped, archives, duration."""
    started = time.monotonic()
    check_parameters(JOB_TYPE, ctx.params, ctx.settings)
    if ctx.params.get("remote") is not None:
        return upload_remote(ctx, started)
    destination = ctx.confine(ctx.params.get("destination") or dataset_input(ctx))
    pairs = plan(ctx, destination)
    total = sum(s.stat().st_size for s, _ in pairs)
    require_free_space(destination, total)
    job_id = ctx.attempt  # the partials of this attempt only
    done = [0, 0.0]

    def on_bytes(n: int) -> None:
        done[0] += n
        if time.monotonic() - done[1] > 0.5:
            done[1] = time.monotonic()
            ctx.progress(99.0 * done[0] / max(total, 1), f"{done[0]} of {total} bytes")

    checksums: dict[str, str] = {}
    copied = skipped = 0
    for source, target in pairs:
        digest, was_copied = copy_verified(source, target, job_id, on_bytes)
        rel = target.relative_to(destination).as_posix()
        checksums[rel] = digest
        copied += was_copied
        skipped += not was_copied
        ctx.log.info("%s %s (sha256 %s)", "uploaded" if was_copied else "already present:", rel, digest)
    archives = [str(t) for _, t in pairs if is_archive(t)]
    duration = round(time.monotonic() - started, 3)
    ctx.progress(100, "uploaded")
    result: dict[str, Any] = {
        "status": "success",
        "message": f"uploaded {copied} files ({skipped} already present), {total} bytes in {duration}s",
        "destination": str(destination), "files": list(checksums)[:1000], "file_count": len(pairs), "copied": copied,
        "skipped": skipped, "bytes": total, "checksums": dict(list(checksums.items())[:1000]),
        "duration_seconds": duration,
    }
    if archives:
        result["archives"] = archives
        result["next_parameters"] = {"archives": archives, "destination": str(destination)}
    else:  # a chained conversion reads what was uploaded, wherever ``destination`` put it
        result["next_parameters"] = {"input_path": str(destination)}
    return result


def upload_remote(ctx: JobContext, started: float) -> dict[str, Any]:
    """``rclone copy`` each named source to ``remote/<uuid>/<name>``, then ``rclone check`` it."""
    remote = get_str(ctx.params, "remote")
    name, sep, path = remote.partition(":")
    if not sep or not name or not name.replace("-", "").replace("_", "").isalnum():
        raise InvalidInput(f"remote must be 'name:path' with a remote from <auth_dir>/rclone.conf, got {remote!r}")
    config = Path(ctx.settings.auth_dir) / "rclone.conf"
    if not config.is_file():
        raise PermanentError(f"no rclone config at {config}: define the remote {name!r} there")
    sources = [
        ctx.confine(raw, must_exist=True)
        for raw in get_str_list(ctx.params, "files") + get_str_list(ctx.params, "source_path")
    ]
    if not sources:
        raise InvalidInput("parameter 'files' (a list of files or directories to upload) is required")
    rclone = require_tool("rclone")
    base = f"{name}:{path.rstrip('/')}/{ctx.dataset_uuid}" if path else f"{name}:{ctx.dataset_uuid}"
    for number, source in enumerate(sources, 1):
        target = f"{base}/{source.name}" if source.is_dir() else base
        ctx.progress(90.0 * (number - 1) / len(sources), f"uploading {source.name}")
        only = [] if source.is_dir() else ["--include", f"/{rclone_literal(source.name)}"]
        common = ["--config", str(config), *only]
        origin = str(source if source.is_dir() else source.parent)
        run_tool(
            ctx,
            [
                rclone, "copy", origin, target, "--stats", "1s", "--stats-one-line", "--stats-log-level", "NOTICE",
                *common,
            ],
        )
        run_tool(ctx, [rclone, "check", origin, target, "--one-way", *common])
    files = [f for s in sources for f in (walk_files(s) if s.is_dir() else [s])]
    total = sum(f.stat().st_size for f in files)
    duration = round(time.monotonic() - started, 3)
    ctx.progress(100, "uploaded")
    return {
        "status": "success",
        "message": f"uploaded {len(files)} files ({total} bytes) to {base} and checked them in {duration}s",
        "destination": base, "file_count": len(files), "bytes": total, "duration_seconds": duration,
    }


def rclone_literal(name: str) -> str:
    """``name`` as an rclone filter pattern that matches that name only (its glob characters escaped)."""
    return re.sub(r"([\\*?\[\]{}])", r"\\\1", name)


def cleanup(job: dict[str, Any], settings: Settings) -> None:
    """Remove partial copies a killed upload left (a retry would have resumed them)."""
    remove_partials(job, settings, "destination")
