"""OpenVisus IDX: write a :class:`Volume`, read it back to verify, and probe existing IDX files.

OpenVisus (package ``OpenVisusNoGui``) is imported inside functions. Its SWIG objects are fragile:
keep a Python reference to a Field before touching its dtype (a temporary segfaults).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sccli.errors import InvalidInput, PermanentError
from sccli.handlers.base import HandlerError
from sccli.handlers.idxzip import BlockLayout, Engine, compress_files
from sccli.handlers.manifest import HashWorker
from sccli.handlers.readers import Volume, need

SUPPORTED_KINDS = "uif"
SIDE_CAR = "conversion.json"
#: Rows written to OpenVisus at once: with the reader's copy, about twice this is in memory.
SLAB_BYTES = 64 * 1024 * 1024
#: Raw size of one IDX data file: the dataset is split into files of about this size (OpenVisus
#: otherwise puts up to 2 GB in one file), which the viewers read the same way.
DATA_FILE_BYTES = 64 * 1024 * 1024
#: OpenVisus' default block size (samples per block, as a power of two).
BITS_PER_BLOCK = 16


def ov_dtype(dtype: Any, components: int) -> str:
    """OpenVisus dtype string of a numpy dtype (``uint8``, ``float32[3]``...)."""
    if dtype.kind not in SUPPORTED_KINDS:
        raise InvalidInput(f"cannot convert {dtype} data (only integers and floats)")
    name = dtype.newbyteorder("=").name
    return f"{name}[{components}]" if components > 1 else name


def _box(dims: list[int], start: int, stop: int) -> tuple[list[int], list[int]]:
    """The logic box of rows [start, stop) along the slowest axis (the last IDX dimension)."""
    p1 = [0] * len(dims)
    p2 = list(dims)
    p1[-1], p2[-1] = start, stop
    return p1, p2


def write_volume(
    volume: Volume,
    idx_path: Path,
    *,
    field_name: str = "data",
    compression: str = "zip",
    slab_bytes: int = SLAB_BYTES,
    workers: int = 1,
    zip_level: int = -1,
    zip_engine: Engine = "zlib",
    on_rows: Callable[[int, int], None] | None = None,
    on_zip: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Write ``volume`` as ``idx_path`` slab by slab, then zip its data files on ``workers``
    threads with ``zip_engine`` (``compression`` zip; raw: left as written); return dims, dtype
    and the data's sha256."""
    ov = need("OpenVisus")
    np = need("numpy")
    spatial = volume.spatial
    if not 2 <= len(spatial) <= 4:
        raise InvalidInput(f"cannot convert a {len(spatial)}-dimensional array {volume.shape} (2 to 4 dimensions)")
    native = volume.dtype.newbyteorder("=")
    dims = [int(n) for n in reversed(spatial)]
    per_file = blocks_per_file(volume.dtype.itemsize * volume.components)
    field = ov.Field(field_name, ov_dtype(volume.dtype, volume.components))
    db = ov.CreateIdx(url=str(idx_path), dims=dims, fields=[field], blocksperfile=per_file)
    digest = hashlib.sha256()
    rows = volume.shape[0]
    hasher = HashWorker(depth=1)  # hashes each slab while it is written
    try:
        for start, slab in volume.slabs(slab_bytes):
            slab = np.ascontiguousarray(slab, dtype=native)
            hasher.update(digest, memoryview(slab).cast("B"), copy=False)  # the slab is never modified
            db.write(slab, logic_box=_box(dims, start, start + slab.shape[0]))
            hasher.wait()  # hashed beside its write; a starved hash thread must not let slabs pile up
            if on_rows is not None:
                on_rows(start + slab.shape[0], rows)
        if compression not in ("", "raw"):
            zip_idx(db, idx_path, workers=workers, level=zip_level, engine=zip_engine, on_file=on_zip)
    finally:
        hasher.close()
    return {
        "dims": dims, "dtype": ov_dtype(volume.dtype, volume.components), "field": field_name,
        "compression": compression or "raw", "data_sha256": digest.hexdigest(),
    }


def blocks_per_file(sample_bytes: int) -> int:
    """``blocksperfile`` for samples of ``sample_bytes``: the largest power of two that keeps a
    data file within :data:`DATA_FILE_BYTES`."""
    blocks = max(1, DATA_FILE_BYTES // (sample_bytes << BITS_PER_BLOCK))
    return 1 << (blocks.bit_length() - 1)


def zip_idx(
    db: Any, idx_path: Path, *, workers: int, level: int = -1, engine: Engine = "zlib",
    on_file: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Zip every block of a raw IDX written by ``db`` (see :mod:`sccli.handlers.idxzip`) and mark
    its fields ``default_compression(zip)``, as OpenVisus' own ``compressDataset`` does."""
    inner = db.db
    idx = inner.idxfile
    fields = list(idx.fields)  # references kept: see the module docstring
    per_block = 1 << int(idx.bitsperblock)
    sizes: list[int] = []
    for field in fields:
        dtype = field.dtype
        sizes += [int(dtype.getByteSize(per_block))] * int(idx.blocksperfile)
    files = [Path(name) for name in inner.getFilenames(-1, "")]
    layout = BlockLayout(tuple(sizes))
    totals = compress_files(files, layout, workers=workers, level=level, engine=engine, on_file=on_file)
    idx.fields.clear()
    for field in fields:
        field.default_compression = "zip"
        idx.fields.push_back(field)
    idx.save(str(idx_path))
    return totals


def verify_volume(volume: Volume, idx_path: Path, *, full: bool, slab_bytes: int = SLAB_BYTES, corner: int = 64) -> int:
    """Read the IDX back and compare it with the source: every slab (``full``), or a
    ``corner``-wide box of the first and last rows (cheap: it touches few compressed blocks).

    Returns the number of rows compared; raises HandlerError on the first difference.
    """
    ov = need("OpenVisus")
    np = need("numpy")
    db = ov.LoadDataset(str(idx_path))
    dims = [int(n) for n in reversed(volume.spatial)]
    rows = volume.shape[0]
    if full:
        pieces = ((start, slab, _box(dims, start, start + slab.shape[0])) for start, slab in volume.slabs(slab_bytes))
    else:
        inner = [min(n, corner) for n in dims[:-1]]
        crop = (slice(None), *(slice(0, n) for n in reversed(inner)))
        pieces = (
            (i, volume.read_slab(i, i + 1)[crop], ([0] * len(inner) + [i], [*inner, i + 1]))
            for i in sorted({0, rows - 1})
        )
    compared = 0
    for start, expected, box in pieces:
        got = db.read(logic_box=box)
        if got.size == expected.size and got.shape != expected.shape:
            got = got.reshape(expected.shape)
        if got.shape != expected.shape or not np.array_equal(got, expected):
            raise HandlerError(f"verification failed: IDX rows from {start} differ from the source")
        compared += expected.shape[0]
    return compared


def describe_idx(idx_path: Path, *, sample: bool = True) -> dict[str, Any]:
    """Open an IDX file, read its coarse level (and a corner at full resolution); its facts."""
    ov = need("OpenVisus")
    np = need("numpy")
    if not idx_path.is_file():
        raise InvalidInput(f"{idx_path} is not a file")
    try:
        db = ov.LoadDataset(str(idx_path))
    except Exception as exc:  # OpenVisus raises plain Exception for unreadable headers
        raise PermanentError(f"{idx_path.name} is not a readable IDX dataset: {exc}") from None
    dims = [int(n) for n in db.getLogicSize()]
    field = db.getField()
    dtype = field.dtype
    info: dict[str, Any] = {
        "path": str(idx_path), "dims": dims, "dtype": dtype.toString(), "fields": list(db.field_names),
    }
    if sample:
        try:
            coarse = db.read(max_resolution=max(0, db.getMaxResolution() - 6))
            corner = db.read(logic_box=([0] * len(dims), [min(n, 16) for n in dims]))
        except Exception as exc:
            raise PermanentError(f"{idx_path.name}: reading a sample failed: {exc}") from None
        info["sample"] = {
            "coarse_shape": list(coarse.shape),
            "corner_sha256": hashlib.sha256(np.ascontiguousarray(corner).tobytes()).hexdigest(),
        }
    return info


#: Largest piece of an IDX read at once by :func:`idx_checksum` (its memory bound).
CHECKSUM_SLAB_BYTES = 64 * 1024 * 1024


def idx_checksum(idx_path: Path, *, slab_bytes: int | None = None) -> str:
    """sha256 of the full-resolution data of an IDX (same value ``write_volume`` reports),
    read in boxes of at most ``slab_bytes`` (default :data:`CHECKSUM_SLAB_BYTES`; one sample at
    least), so memory stays bounded whatever the dataset's size."""
    ov = need("OpenVisus")
    np = need("numpy")
    db = ov.LoadDataset(str(idx_path))
    p1, p2 = ([int(n) for n in corner] for corner in db.getLogicBox())
    field = db.getField()
    dtype = field.dtype  # a reference to the Field is kept: see the module docstring
    digest = hashlib.sha256()
    for box in checksum_boxes(p1, p2, int(dtype.getByteSize()), slab_bytes or CHECKSUM_SLAB_BYTES):
        piece = np.ascontiguousarray(db.read(logic_box=box))
        digest.update(memoryview(piece).cast("B"))
    return digest.hexdigest()


def checksum_boxes(
    p1: list[int], p2: list[int], sample_bytes: int, slab_bytes: int
) -> Iterator[tuple[list[int], list[int]]]:
    """Logic boxes that cover ``[p1, p2)`` in the data's memory order (the last IDX axis slowest),
    each of at most ``slab_bytes``: whole rows along the slowest axis when they fit, else pieces
    of one row split along the next axis, and so on, so the bytes of the boxes, one after the
    other, are the bytes of the whole array."""
    sizes = [b - a for a, b in zip(p1, p2, strict=True)]
    if any(n <= 0 for n in sizes):
        return
    inner = sample_bytes  # bytes of one step along axis ``axis``: everything faster is whole
    axis = 0
    while axis < len(sizes) - 1 and inner * sizes[axis] <= slab_bytes:
        inner *= sizes[axis]
        axis += 1
    step = max(1, slab_bytes // inner)
    outer = [range(p1[i], p2[i]) for i in range(axis + 1, len(sizes))]
    for fixed in itertools.product(*reversed(outer)):  # slowest axis outermost
        coords = list(reversed(fixed))
        for start in range(p1[axis], p2[axis], step):
            low = p1[:axis] + [start] + coords
            high = p2[:axis] + [min(p2[axis], start + step)] + [c + 1 for c in coords]
            yield low, high


def write_sidecar(output_dir: Path, facts: dict[str, Any]) -> None:
    """``conversion.json`` beside the IDX: what was converted, so validation can re-check it."""
    (output_dir / SIDE_CAR).write_text(json.dumps(facts, indent=1, sort_keys=True, default=str))
