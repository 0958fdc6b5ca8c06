"""dataset_conversion: convert a dataset's input to OpenVisus IDX (``<output>/visus.idx``).

Parameters: ``input_path`` (default ``<in_data_dir>/<uuid>``), ``output_path`` (default
``<out_data_dir>/<uuid>``), ``sensor_type`` (TIFF, TIFF RGB, HDF5, 4D_Probe, NETCDF, NUMPY, IDX;
otherwise the format is detected from the files), ``conversion_params``: ``dataset`` (HDF5 path),
``Xs_dataset``/``Ys_dataset`` (4D_Probe scan coordinates), ``variable`` (NetCDF), ``field``
(IDX field name, default ``data``), ``compression`` (``zip`` default, or ``raw``), ``verify``
(``sample`` default: first and last rows read back; ``full``: everything).

``settings.converters[sensor_type]`` replaces the built-in converter with an external command,
called as ``cmd... input_dir output_dir sensor_type --params JSON``.

The output is written to ``.<uuid>.sc-partial-<job_id>`` beside the final directory and
renamed when it has been verified. Before anything is read, the input tree is checked: a link
leading out of the data directories is refused (never followed), as are an HDF5/NetCDF file
with external links, external storage or virtual datasets, and an IDX whose data files lie
outside its folder. ``output_path`` must not overlap ``input_path``.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from sccli.errors import InvalidInput
from sccli.handlers.base import HandlerError, JobContext
from sccli.handlers.containment import check_tree, strip_tree_bits
from sccli.handlers.idx import DATA_FILE_BYTES, SIDE_CAR, describe_idx, verify_volume, write_sidecar, write_volume
from sccli.handlers.idxzip import block_compressor, conversion_workers
from sccli.handlers.params import confined_param, dataset_input, dataset_output, get_dict, get_str
from sccli.handlers.readers import IDX_SUFFIXES, detect_format, input_files, open_volume
from sccli.handlers.specs import check_parameters
from sccli.handlers.staging import partial_path, promote, remove_partials, remove_path, require_free_space
from sccli.handlers.tools import require_tool, run_tool
from sccli.settings import Settings

IDX_NAME = "visus.idx"
JOB_TYPE = "dataset_conversion"


def run(ctx: JobContext) -> dict[str, Any]:
    """Convert the dataset; result: format, dims, dtype, bytes, data sha256, output path."""
    started = time.monotonic()
    check_parameters(JOB_TYPE, ctx.params, ctx.settings)
    source = confined_param(ctx, "input_path", dataset_input(ctx), must_exist=True)
    final = confined_param(ctx, "output_path", dataset_output(ctx))
    if final == source or final in source.parents or source in final.parents:
        raise InvalidInput(
            f"output_path {final} overlaps input_path {source}: the conversion would replace its own input"
        )
    check_tree(source, ctx.scope, what="input")
    sensor = ctx.params.get("sensor_type")
    if sensor is not None:
        sensor = get_str(ctx.params, "sensor_type")
    options = get_dict(ctx.params, "conversion_params")
    compression = get_str(options, "compression", "zip", choices=("zip", "raw"))
    verify = get_str(options, "verify", "sample", choices=("sample", "full"))
    field_name = get_str(options, "field", "data")
    if not field_name.isidentifier():
        raise InvalidInput(f"conversion_params.field must be a plain name, got {field_name!r}")
    partial = partial_path(final, ctx.attempt)
    remove_path(partial)
    partial.mkdir(parents=True)
    try:
        if sensor and sensor in ctx.settings.converters:
            facts = convert_external(ctx, ctx.settings.converters[sensor], source, partial, sensor, options)
        else:
            fmt = detect_format(source, sensor)
            ctx.log.info("converting %s input %s (sensor %s)", fmt, source, sensor or "not given")
            if fmt == "idx":
                facts = copy_idx(ctx, source, partial)
            else:
                facts = convert_builtin(
                    ctx, fmt, source, partial, sensor, options, compression=compression, verify=verify,
                    field_name=field_name,
                )
        strip_tree_bits(partial)
        promote(partial, final, ctx=ctx)
    except BaseException:
        remove_path(partial)
        raise
    facts["output_path"] = str(final)
    facts["idx"] = str(final / IDX_NAME)
    duration = round(time.monotonic() - started, 3)
    ctx.progress(100, "converted")
    message = f"converted {facts.get('format', 'input')} to IDX {facts.get('dims')} {facts.get('dtype')} in {duration}s"
    return {"status": "success", "message": message, "duration_seconds": duration, **facts}


def convert_builtin(
    ctx: JobContext, fmt: str, source: Path, partial: Path, sensor: str | None, options: dict[str, Any], *,
    compression: str, verify: str, field_name: str,
) -> dict[str, Any]:
    """Read the input as a volume, write ``visus.idx``, read it back, write ``conversion.json``."""
    volume = open_volume(fmt, source, options, sensor)
    ctx.log.info(
        "input %s: shape %s dtype %s components %d", volume.details, volume.shape, volume.dtype, volume.components
    )
    require_free_space(partial, volume.nbytes)

    zipped = compression == "zip"
    wrote_share = 40.0 if zipped else 85.0  # zipping takes most of a conversion's time

    clock = PhaseClock()  # each phase's wall and CPU time in the job log: where a conversion's time goes

    def on_rows(done: int, total: int) -> None:
        ctx.progress(wrote_share * done / max(total, 1), f"wrote {done}/{total} rows")
        if done >= total:
            ctx.log.info("wrote %d rows in %s", total, clock.lap())

    def on_zip(done: int, total: int) -> None:
        ctx.progress(wrote_share + (85.0 - wrote_share) * done / max(total, 1), f"zipped {done}/{total} data files")
        if done >= total:
            ctx.log.info("zipped %d data files in %s", total, clock.lap())

    workers = conversion_workers(ctx.settings.conversion_workers)
    engine, level = ctx.settings.conversion_zip_engine, ctx.settings.conversion_zip_level
    files = -(-volume.nbytes // DATA_FILE_BYTES)
    ctx.log.info("writing %s in data files of at most %d MB (about %d), zipped on %d thread(s) by %s", IDX_NAME,
                 DATA_FILE_BYTES >> 20, files, workers, block_compressor(engine, level)[0])
    written = write_volume(volume, partial / IDX_NAME, field_name=field_name, compression=compression, workers=workers,
                           zip_level=level, zip_engine=engine, on_rows=on_rows, on_zip=on_zip)
    ctx.progress(90, f"verifying ({verify})")
    rows = verify_volume(volume, partial / IDX_NAME, full=verify == "full")
    ctx.log.info("verified %d rows of %s against the source in %s", rows, IDX_NAME, clock.lap())
    facts = {
        **volume.details, **written, "format": volume.details.get("format", fmt), "shape": list(volume.shape),
        "input_bytes": volume.nbytes, "output_bytes": tree_bytes(partial),
        "files": [_relative(p, source) for p in volume.source[:20]], "file_count": len(volume.source),
        "verified_rows": rows, "verify": verify, "sensor_type": sensor,
    }
    write_sidecar(partial, facts)
    return facts


class PhaseClock:
    """Wall and CPU time (every thread of this process: the zip pool's and the hash's too) per phase."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.monotonic(), time.process_time()

    def lap(self) -> str:
        """The time since the last lap (or the start), as words for the job log."""
        wall, cpu = time.monotonic(), time.process_time()
        text = f"{wall - self.wall:.2f}s (CPU {cpu - self.cpu:.2f}s)"
        self.wall, self.cpu = wall, cpu
        return text


def copy_idx(ctx: JobContext, source: Path, partial: Path) -> dict[str, Any]:
    """IDX input: open and sample it, then copy the IDX with its data files."""
    found = input_files(source, IDX_SUFFIXES)
    if not found:
        raise InvalidInput(f"no .idx file under {source}")
    idx_file = found[0]
    check_idx_template(idx_file)
    info = describe_idx(idx_file)
    root = idx_file.parent
    require_free_space(partial, tree_bytes(root))
    shutil.copytree(root, partial, dirs_exist_ok=True, symlinks=False)
    if idx_file.name != IDX_NAME:
        # its data template is relative to the folder, not the name
        (partial / idx_file.name).rename(partial / IDX_NAME)
    copied = describe_idx(partial / IDX_NAME)
    if copied["dims"] != info["dims"] or copied.get("sample") != info.get("sample"):
        raise HandlerError("the copied IDX reads differently from its source")
    facts = {
        "format": "idx", "dims": info["dims"], "dtype": info["dtype"], "input_bytes": tree_bytes(root),
        "output_bytes": tree_bytes(partial), "source_idx": str(idx_file),
    }
    write_sidecar(partial, facts)
    return facts


def check_idx_template(idx_file: Path) -> None:
    """Refuse an IDX whose data files (its ``filename_template``) lie outside its own folder."""
    lines = idx_file.read_text(errors="replace").splitlines()
    for number, line in enumerate(lines[:-1]):
        if line.strip() == "(filename_template)":
            template = lines[number + 1].strip()
            if template.startswith("/") or ".." in Path(template).parts or "\\" in template:
                raise InvalidInput(
                    f"{idx_file.name}: its data files {template!r} lie outside its folder: refused, not read"
                )


def convert_external(
    ctx: JobContext, command: list[str], source: Path, partial: Path, sensor: str, options: dict[str, Any]
) -> dict[str, Any]:
    """Run the settings' converter for this sensor (the original's contract) and check its output."""
    if not command or not all(isinstance(c, str) and c for c in command):
        raise InvalidInput(f"settings.converters[{sensor!r}] must be a non-empty command list")
    exe = command[0] if "/" in command[0] else require_tool(command[0])
    run_tool(ctx, [exe, *command[1:], str(source), str(partial), sensor, "--params", json.dumps(options)])
    idx_files = sorted(partial.rglob("*.idx"))
    facts: dict[str, Any] = {
        "format": f"external:{Path(command[0]).name}", "output_bytes": tree_bytes(partial), "converter": command,
    }
    if idx_files:
        info = describe_idx(idx_files[0])
        facts.update(dims=info["dims"], dtype=info["dtype"])
    elif not any(partial.iterdir()):
        raise HandlerError(f"converter {command[0]} wrote nothing to its output directory")
    return facts


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if root in path.parents else path.name


def tree_bytes(root: Path) -> int:
    """Total size of the regular files under ``root``."""
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def cleanup(job: dict[str, Any], settings: Settings) -> None:
    """Remove the partial output directory a killed conversion left."""
    remove_partials(job, settings, "output_path")


__all__ = ["run", "cleanup", "IDX_NAME", "SIDE_CAR"]
