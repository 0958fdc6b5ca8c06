"""backup_creation: a ``tar.zst`` snapshot of a dataset's input and output directories.

Writes ``<backup_dir>/<uuid>/<timestamp>/data.tar.zst`` (members ``input/...`` and
``output/...``) and ``manifest.json`` (size and sha256 of every file, plus the archive's sha256);
the snapshot directory is staged as ``.<timestamp>.sc-partial-<job_id>`` and renamed when
complete. Afterwards only the newest ``keep`` snapshots are kept (parameter, default
``settings.backup_keep``). Parameters: ``keep``, ``level`` (zstd 1-19, default 3).
A link under either directory that leads out of the data directories is refused (links are
stored as links, never followed); no member keeps a setuid, setgid or sticky bit.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sccli.clock import utcnow
from sccli.errors import PermanentError
from sccli.handlers import zstdpipe
from sccli.handlers.base import JobContext
from sccli.handlers.compression import HashingSink, InlineHasher, open_compressor, tar_writer
from sccli.handlers.containment import SPECIAL_BITS, check_tree, open_nofollow
from sccli.handlers.manifest import HashWorker, build_manifest, manifest_totals, walk_files, write_json
from sccli.handlers.params import dataset_input, dataset_output, get_int
from sccli.handlers.specs import check_parameters
from sccli.handlers.staging import PARTIAL_MARK, partial_path, promote, remove_partials, remove_path, require_free_space
from sccli.handlers.writeback import Writeback
from sccli.handlers.zstdpipe import compression_threads
from sccli.settings import Settings

ARCHIVE_NAME = "data.tar.zst"
MANIFEST_NAME = "manifest.json"
JOB_TYPE = "backup_creation"


def snapshot_roots(ctx: JobContext) -> dict[str, Path]:
    """The dataset's existing input and output directories, by label; a link under them that
    leads out of the data directories is refused."""
    roots = {"input": dataset_input(ctx), "output": dataset_output(ctx)}
    found = {label: ctx.confine(path) for label, path in roots.items() if path.is_dir()}
    for root in found.values():
        check_tree(root, ctx.scope)
    return found


def run(ctx: JobContext) -> dict[str, Any]:
    """Create the snapshot and prune old ones; result: snapshot path, files, bytes, sha256, pruned."""
    started = time.monotonic()
    check_parameters(JOB_TYPE, ctx.params, ctx.settings)
    if not ctx.settings.backup_dir:
        raise PermanentError("settings.backup_dir is not set: nowhere to write backups")
    keep = get_int(ctx.params, "keep", ctx.settings.backup_keep, minimum=1)
    level = get_int(ctx.params, "level", 3, minimum=1, maximum=19)
    roots = snapshot_roots(ctx)
    if not roots:
        raise PermanentError(f"dataset {ctx.dataset_uuid} has neither an input nor an output directory to back up")
    base = ctx.confine(Path(ctx.settings.backup_dir) / ctx.dataset_uuid)
    done = snapshot_of_job(base, str(ctx.job.get("job_id")))
    if done is not None:  # a re-run (the outcome of the finished run was not recorded): same snapshot
        ctx.progress(100, "already backed up")
        return _result(done, keep, prune(base, keep), time.monotonic() - started, again=True)
    final = base / utcnow().strftime("%Y%m%dT%H%M%S.%fZ")
    partial = partial_path(final, ctx.attempt)
    try:
        partial.mkdir(parents=True)
        ctx.progress(1, "hashing files")
        manifest = build_manifest(roots)
        count, size = manifest_totals(manifest)
        require_free_space(base, size // 2)
        ctx.progress(40, f"archiving {count} files")
        threads = compression_threads(None, ctx.settings.compression_threads)
        archive_sha, archive_bytes = write_snapshot(roots, partial / ARCHIVE_NAME, level, threads)
        manifest.update(dataset_uuid=ctx.dataset_uuid, archive=ARCHIVE_NAME, archive_sha256=archive_sha,
                        archive_bytes=archive_bytes, job_id=ctx.job.get("job_id"))
        write_json(partial / MANIFEST_NAME, manifest)
        promote(partial, final, replace=False, ctx=ctx)
    except BaseException:
        remove_path(partial)
        raise
    ctx.progress(100, "backed up")
    return _result(final, keep, prune(base, keep), time.monotonic() - started)


def snapshot_of_job(base: Path, job_id: str) -> Path | None:
    """The complete snapshot an earlier run of this job wrote (its manifest names the job), if any."""
    for snapshot in reversed(snapshots(base)):
        try:
            manifest = json.loads((snapshot / MANIFEST_NAME).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(manifest, dict) and manifest.get("job_id") == job_id:
            return snapshot
    return None


def _result(final: Path, keep: int, pruned: list[Path], seconds: float, *, again: bool = False) -> dict[str, Any]:
    manifest = json.loads((final / MANIFEST_NAME).read_text())
    count, size = manifest_totals(manifest)
    duration = round(seconds, 3)
    verb = "already backed up (this job's snapshot)" if again else "backed up"
    return {
        "status": "success",
        "message": f"{verb} {count} files ({size} bytes) to {final} in {duration}s; pruned {len(pruned)}",
        "snapshot": str(final),
        "archive": str(final / ARCHIVE_NAME),
        "manifest": str(final / MANIFEST_NAME),
        "files": count,
        "bytes": size,
        "archive_bytes": manifest.get("archive_bytes"),
        "archive_sha256": manifest.get("archive_sha256"),
        "pruned": [str(p) for p in pruned],
        "kept": keep,
        "duration_seconds": duration,
    }


def write_snapshot(roots: dict[str, Path], target: Path, level: int, threads: int = 0) -> tuple[str, int]:
    """A tar.zst with each root under its label (zstd on ``threads`` workers); (sha256, bytes) of the archive."""
    hasher = InlineHasher() if zstdpipe.zstd_command() else HashWorker()
    try:
        with open(target, "wb") as raw, Writeback(raw) as durable:
            sink = HashingSink(durable, hasher)
            with open_compressor(sink, is_zstd=True, level=level, threads=threads) as stream, tar_writer(stream) as tar:
                for label, root in roots.items():
                    for path in walk_files(root):
                        info = tar.gettarinfo(str(path), f"{label}/{path.relative_to(root).as_posix()}")
                        info.mode &= ~SPECIAL_BITS
                        with open_nofollow(path) as fh:
                            tar.addfile(info, fh)
            durable.finish()
    finally:
        hasher.close()
    return sink.digest.hexdigest(), sink.bytes


def snapshots(base: Path) -> list[Path]:
    """Complete snapshots of a dataset, oldest first (timestamps sort as text)."""
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if p.is_dir() and PARTIAL_MARK not in p.name and not p.name.startswith("."))


def prune(base: Path, keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` snapshots; returns the removed ones."""
    old = snapshots(base)[:-keep]
    for path in old:
        remove_path(path)
    return old


def cleanup(job: dict[str, Any], settings: Settings) -> None:
    """Remove the partial snapshot a killed backup left."""
    remove_partials(job, settings)
