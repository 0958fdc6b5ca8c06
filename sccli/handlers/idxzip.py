"""Zip compression of a raw OpenVisus IDX, block by block, on several cores, in bounded memory.

OpenVisus' own pass (``db.compressDataset(["zip"])``) reads each data file whole and keeps every
compressed block until the file is rewritten: its memory grows with the file, and without a
``blocksperfile`` the whole dataset is one file. This writes the very same file format (the one
``OpenVisus.convert.CompressModVisusDataset`` writes: a zeroed 40-byte file header, one 40-byte
big-endian header per block, then the blocks in block order, zlib-compressed, flags ``| 0x03``)
but streams it: each block is read with ``pread``, compressed on a pool of threads (zlib and ISA-L
release the GIL, so they use every core), and written in order to a new file that replaces the old
one. At most ``WINDOW_PER_WORKER`` blocks per worker are in memory at once, whatever the dataset's size.

The deflate engine is zlib's or ISA-L's (package ``isal``: the same zlib stream format, which any
inflate reads, at about ten times zlib's speed for levels 0-3); see :func:`block_compressor`.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

FILE_HEADER = 40
BLOCK_HEADER = 40
COMPRESSION_MASK = 0x0F
ZIP = 0x03
#: Blocks queued per worker: enough to keep every core busy while the writer catches up.
WINDOW_PER_WORKER = 4
_HEADER = struct.Struct(">10I")
#: ISA-L's highest level (a higher zlib level asked of the isal engine is taken as this one).
ISAL_MAX_LEVEL = 3
Engine = Literal["isal", "zlib"]
Compress = Callable[[bytes], bytes]


def block_compressor(engine: Engine, level: int) -> tuple[str, Compress]:
    """The engine's name and a function deflating one block into a zlib stream at ``level``.

    ``isal`` uses ISA-L (levels 0-3; a higher one is taken as 3) when the package is installed,
    else zlib; level -1 is always zlib's default, whose bytes are OpenVisus' own."""
    if engine == "isal" and level >= 0:
        try:
            from isal import isal_zlib
        except ImportError:  # an install without the formats extra: zlib does the same, slower
            pass
        else:
            isal_level = min(level, ISAL_MAX_LEVEL)
            return f"isal level {isal_level}", lambda data: isal_zlib.compress(data, isal_level)
    return f"zlib level {level}", lambda data: zlib.compress(data, level)


@dataclass(frozen=True)
class BlockLayout:
    """What a data file holds: ``block_bytes`` (raw size of one block) for each of its blocks,
    in block order (``blocksperfile`` blocks per field, one field after the other)."""

    block_bytes: tuple[int, ...]

    @property
    def header_bytes(self) -> int:
        return FILE_HEADER + BLOCK_HEADER * len(self.block_bytes)


def available_cores() -> int:
    """Cores this process may run on (its affinity mask, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def conversion_workers(setting: int) -> int:
    """Threads a conversion compresses with: ``setting`` (settings.conversion_workers) capped
    by the cores available; 0 means all of them."""
    cores = available_cores()
    return cores if setting <= 0 else min(setting, cores)


def _read_headers(fd: int, layout: BlockLayout) -> list[tuple[int, ...]]:
    raw = os.pread(fd, layout.header_bytes, 0)
    if len(raw) != layout.header_bytes:
        raise ValueError(f"data file is shorter ({len(raw)} bytes) than its block headers ({layout.header_bytes})")
    return [_HEADER.unpack_from(raw, FILE_HEADER + i * BLOCK_HEADER) for i in range(len(layout.block_bytes))]


def _compress_block(fd: int, header: tuple[int, ...], raw_bytes: int, compress: Compress) -> bytes:
    """One block, compressed (an absent block, of size 0, stays empty; a zipped one is re-zipped
    from its content, so a file compressed already comes out the same)."""
    offset, size, flags = header[2] | (header[3] << 32), header[4], header[5]
    if size == 0:
        return b""
    block = os.pread(fd, size, offset)
    if flags & COMPRESSION_MASK == ZIP:
        block = zlib.decompress(block)
    elif flags & COMPRESSION_MASK != 0:
        kind = flags & COMPRESSION_MASK
        raise ValueError(f"block at {offset} has compression flags {kind:#x} (only raw and zip are handled)")
    if len(block) != raw_bytes:
        raise ValueError(f"block at {offset} holds {len(block)} bytes, expected {raw_bytes}")
    return compress(block)


def _ordered(pool: ThreadPoolExecutor, window: int, tasks: Iterator[Callable[[], bytes]]) -> Iterator[bytes]:
    """Results of ``tasks`` in order, with at most ``window`` of them queued or held at once."""
    pending: deque[Future[bytes]] = deque()
    for task in tasks:
        pending.append(pool.submit(task))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def compress_file(
    path: Path, layout: BlockLayout, pool: ThreadPoolExecutor, window: int, compress: Compress
) -> tuple[int, int]:
    """Zip every block of one data file into ``<path>.sczip`` and put it in place of ``path``;
    return (bytes before, bytes after)."""
    tmp = path.with_name(path.name + ".sczip")
    fd = os.open(path, os.O_RDONLY)
    try:
        headers = _read_headers(fd, layout)
        pairs = zip(headers, layout.block_bytes, strict=True)
        tasks = ((lambda h=h, n=n: _compress_block(fd, h, n, compress)) for h, n in pairs)
        new_headers = bytearray(layout.header_bytes)  # the file header stays all zeros
        offset = layout.header_bytes
        with open(tmp, "wb") as out:
            out.seek(offset)
            for i, (header, block) in enumerate(zip(headers, _ordered(pool, window, tasks), strict=True)):
                flags = (header[5] & ~COMPRESSION_MASK) | ZIP
                place = FILE_HEADER + i * BLOCK_HEADER
                low, high = offset & 0xFFFFFFFF, offset >> 32
                _HEADER.pack_into(new_headers, place, 0, 0, low, high, len(block), flags, 0, 0, 0, 0)
                out.write(block)
                offset += len(block)
            out.seek(0)
            out.write(new_headers)
        before = os.fstat(fd).st_size
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return before, offset


def compress_files(
    files: list[Path],
    layout: BlockLayout,
    *,
    workers: int,
    level: int = -1,
    engine: Engine = "zlib",
    on_file: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Zip the blocks of every data file in ``files`` (missing ones are skipped: an IDX has no
    file for a range without data) with ``workers`` threads and ``engine`` at ``level``; return
    total bytes before and after."""
    compress = block_compressor(engine, level)[1]
    before = after = 0
    present = [f for f in files if f.is_file()]
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="sc-zip") as pool:
        for number, path in enumerate(present, 1):
            was, now = compress_file(path, layout, pool, WINDOW_PER_WORKER * max(1, workers), compress)
            before, after = before + was, after + now
            if on_file is not None:
                on_file(number, len(present))
    return before, after
