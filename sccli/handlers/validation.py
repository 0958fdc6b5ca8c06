"""data_validation: check a dataset's files against its manifest, its IDX outputs and its archives.

The manifest is ``<out_data_dir>/<uuid>.manifest.json`` (``manifest_path`` to choose another):
when it does not exist (or ``rebuild`` is true) it is built from the dataset's input and output
directories and the job passes; otherwise every file is compared (missing, changed, extra).
Every ``*.idx`` is opened and a sample read; when a ``conversion.json`` beside it has the data's
sha256 the whole IDX is read back and compared (``idx_checksum``, default true), in boxes of at
most 64 MiB, so memory stays bounded whatever the dataset's size. Every archive
(zip, tar.*, 7z) is read through. Any problem fails the job for good (a permanent error: the
same files fail the same way again) with a one-line summary; the details go to the job log.
A link that leads out of the data directories is refused before anything is read, and an IDX
whose data files lie outside its folder is a problem, not read.
"""

from __future__ import annotations

import json
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

from sccli.errors import InvalidInput, PermanentError
from sccli.handlers.archives import archive_kind, is_archive, open_tar_stream
from sccli.handlers.backup import snapshot_roots
from sccli.handlers.base import HandlerError, JobContext
from sccli.handlers.conversion import check_idx_template
from sccli.handlers.idx import SIDE_CAR, describe_idx, idx_checksum
from sccli.handlers.manifest import build_manifest, compare_manifest, manifest_totals, walk_files, write_json
from sccli.handlers.params import get_bool
from sccli.handlers.specs import check_parameters
from sccli.handlers.tools import require_tool, run_tool

JOB_TYPE = "data_validation"


def run(ctx: JobContext) -> dict[str, Any]:
    """Validate; result: files checked, manifest built or compared, IDX and archive checks."""
    started = time.monotonic()
    check_parameters(JOB_TYPE, ctx.params, ctx.settings)
    rebuild = get_bool(ctx.params, "rebuild", False)
    check_sum = get_bool(ctx.params, "idx_checksum", True)
    default_manifest = Path(ctx.settings.out_data_dir) / f"{ctx.dataset_uuid}.manifest.json"
    manifest_path = ctx.confine(ctx.params.get("manifest_path") or default_manifest)
    roots = snapshot_roots(ctx)
    if not roots:
        raise PermanentError(f"dataset {ctx.dataset_uuid} has neither an input nor an output directory")
    problems: list[str] = []
    ctx.progress(5, "checking files")
    if manifest_path.is_file() and not rebuild:
        manifest = _load(manifest_path)
        diff = compare_manifest(manifest, roots)
        for kind, paths in diff.items():
            problems += [f"{kind}: {p}" for p in paths]
        manifest_state = "compared"
    else:
        manifest = build_manifest(roots)
        manifest["dataset_uuid"] = ctx.dataset_uuid
        write_json(manifest_path, manifest)
        manifest_state = "built"
    count, size = manifest_totals(manifest)
    ctx.progress(50, "checking IDX outputs")
    idx_checked = check_idx_files(ctx, roots, problems, check_sum)
    ctx.progress(75, "testing archives")
    archives_checked = check_archives(ctx, roots, problems)
    duration = round(time.monotonic() - started, 3)
    for problem in problems:
        ctx.log.error("validation: %s", problem)
    if problems:
        summary = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise PermanentError(f"dataset {ctx.dataset_uuid} is not valid: {len(problems)} problem(s): {summary}")
    ctx.progress(100, "valid")
    return {
        "status": "success",
        "message": f"valid: {count} files ({size} bytes), manifest {manifest_state}, {len(idx_checked)} IDX, "
        f"{len(archives_checked)} archive(s) checked in {duration}s",
        "manifest": str(manifest_path),
        "manifest_state": manifest_state,
        "files": count,
        "bytes": size,
        "idx": idx_checked,
        "archives": archives_checked,
        "duration_seconds": duration,
    }


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise PermanentError(f"manifest {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise PermanentError(f"manifest {path} has no 'files' object")
    return data


def check_idx_files(
    ctx: JobContext, roots: dict[str, Path], problems: list[str], check_sum: bool
) -> list[dict[str, Any]]:
    """Open each IDX and read a sample; compare the full data with conversion.json's sha256."""
    checked = []
    for root in roots.values():
        for path in sorted(root.rglob("*.idx")):
            try:
                check_idx_template(path)
                info = describe_idx(path)
            except (HandlerError, InvalidInput, PermanentError) as exc:
                problems.append(f"idx: {exc}")
                continue
            expected = _expected_sha(path.parent / SIDE_CAR, problems)
            if check_sum and expected:
                info["checksum_ok"] = idx_checksum(path) == expected
                if not info["checksum_ok"]:
                    problems.append(f"idx: {path.name} data differs from what was converted (sha256)")
            checked.append(info)
    return checked


def _expected_sha(facts_file: Path, problems: list[str]) -> str | None:
    """The data sha256 a conversion recorded beside its IDX (None when there is none)."""
    if not facts_file.is_file():
        return None
    try:
        facts = json.loads(facts_file.read_text())
    except ValueError as exc:
        problems.append(f"idx: {facts_file.name} is not valid JSON: {exc}")
        return None
    return facts.get("data_sha256") if isinstance(facts, dict) else None


def check_archives(ctx: JobContext, roots: dict[str, Path], problems: list[str]) -> list[str]:
    """Read every archive through (zip CRCs, tar members, ``7z t``)."""
    checked = []
    for root in roots.values():
        for path in (p for p in walk_files(root) if is_archive(p)):
            try:
                test_archive(ctx, path)
            except (HandlerError, PermanentError, OSError, EOFError, zipfile.BadZipFile, tarfile.TarError) as exc:
                problems.append(f"archive: {path.name}: {exc}")
            except Exception as exc:  # zstandard/lz4 raise their own error types on damaged data
                problems.append(f"archive: {path.name}: {type(exc).__name__}: {exc}")
            checked.append(str(path))
    return checked


def test_archive(ctx: JobContext, path: Path) -> None:
    kind = archive_kind(path)
    if kind == "zip":
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
        if bad:
            raise HandlerError(f"bad CRC in member {bad}")
    elif kind == "7z":
        run_tool(ctx, [require_tool("7z"), "t", "-bd", path], quiet=lambda line: True)
    else:
        archive, raw = open_tar_stream(path, kind.partition(".")[2])
        try:
            for member in iter(archive.next, None):
                if member.isreg():
                    source = archive.extractfile(member)
                    while source is not None and source.read(1024 * 1024):
                        pass
        finally:
            archive.close()
            raw.close()
