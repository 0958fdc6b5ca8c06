"""data_compression: a dataset directory to ``tar.zst`` (default) or ``tar.lz4``.

Parameters: ``input_path`` (directory, default ``<in_data_dir>/<uuid>``), ``output_path``
(archive, default ``<out_data_dir>/<uuid>.tar.zst`` or ``.tar.lz4``; an existing directory gets
the archive ``<input name>.tar.zst`` inside it), ``format`` (``tar.zst`` or
``lz4``), ``level`` (zstd 1-19, default 3; lz4 0-16, default 0), ``threads`` (zstd workers,
default: settings ``compression_threads``, every core; never more than the cores),
``file_checksums`` (true: sha256 of every file, also written to ``<archive>.manifest.json``).

The archive is written as ``.<name>.sc-partial-<job_id>`` and renamed when complete; the result
has the archive's sha256, the compression ratio and the per-file checksums. A link under the
input that leads out of the data directories is refused; links are stored as links, never
followed; no member keeps a setuid, setgid or sticky bit.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from sccli.errors import InvalidInput, MissingExtra
from sccli.handlers import zstdpipe
from sccli.handlers.base import JobContext
from sccli.handlers.containment import SPECIAL_BITS, check_tree, open_nofollow
from sccli.handlers.manifest import HashWorker, write_json
from sccli.handlers.params import dataset_input, get_bool, get_int, get_str
from sccli.handlers.specs import check_parameters
from sccli.handlers.staging import PARTIAL_MARK, partial_path, promote, remove_partials, remove_path, require_free_space
from sccli.handlers.writeback import Writeback
from sccli.handlers.zstdpipe import ZstdPipeWriter, compression_threads
from sccli.settings import Settings

CHUNK = 1024 * 1024
FORMATS = {"tar.zst": ".tar.zst", "zst": ".tar.zst", "lz4": ".tar.lz4", "tar.lz4": ".tar.lz4"}
RESULT_CHECKSUM_LIMIT = 1000
JOB_TYPE = "data_compression"


class HashingSink:
    """A write-only file that hashes (on ``hasher``) and counts what passes through to ``target``."""

    def __init__(self, target: IO[bytes] | Writeback, hasher: HashWorker | InlineHasher) -> None:
        self.target = target
        self.hasher = hasher
        self.digest = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.hasher.update(self.digest, data)
        self.bytes += len(data)
        return self.target.write(data)

    def flush(self) -> None:
        self.target.flush()

    def close(self) -> None:
        """The compressor may close its sink; the caller closes the real file."""


class InlineHasher:
    """:class:`HashWorker`'s interface, hashing in the caller's thread: with ``zstd`` in a process
    of its own, the job's one thread hashes while zstd compresses, and no thread waits on another."""

    def update(self, digest: Any, data: bytes | memoryview, *, copy: bool = True) -> None:
        digest.update(data)

    def close(self) -> None:
        """Nothing queued."""


class HashingSource:
    """A read-only file that hashes (on ``hasher``, when given) what is read and reports the bytes.

    With ``buffer``, reads land in it and come back as views of it, valid until the next read
    (TarFile writes each piece before it reads the next): no fresh megabyte per read to allocate,
    fault in and free."""

    def __init__(self, source: IO[bytes], on_bytes: Callable[[int], None], hasher: HashWorker | InlineHasher | None,
                 buffer: memoryview | None = None) -> None:
        self.source = source
        self.hasher = hasher
        self.digest = hashlib.sha256() if hasher is not None else None
        self.on_bytes = on_bytes
        self.buffer = buffer

    def read(self, n: int = -1) -> bytes | memoryview:
        data: bytes | memoryview
        if self.buffer is not None and 0 <= n <= len(self.buffer):
            data = self.buffer[:self.source.readinto(self.buffer[:n])]  # type: ignore[attr-defined]
        else:
            data = self.source.read(n)
        if self.hasher is not None:
            self.hasher.update(self.digest, data)
        self.on_bytes(len(data))
        return data


def run(ctx: JobContext) -> dict[str, Any]:
    """Compress the dataset directory; result: archive, bytes in/out, ratio, sha256s."""
    started = time.monotonic()
    check_parameters(JOB_TYPE, ctx.params, ctx.settings)
    fmt = get_str(ctx.params, "format", "tar.zst", choices=tuple(FORMATS))
    suffix = FORMATS[fmt]
    is_zstd = suffix == ".tar.zst"
    level = get_int(
        ctx.params, "level", 3 if is_zstd else 0, minimum=0 if not is_zstd else 1, maximum=19 if is_zstd else 16
    )
    asked = get_int(ctx.params, "threads", 0, minimum=0, maximum=64) if "threads" in ctx.params else None
    threads = compression_threads(asked, ctx.settings.compression_threads)
    checksums = get_bool(ctx.params, "file_checksums", True)
    source = ctx.confine(ctx.params.get("input_path") or dataset_input(ctx), must_exist=True)
    if not source.is_dir():
        raise InvalidInput(f"{source} is not a directory")
    default_out = Path(ctx.settings.out_data_dir) / f"{ctx.dataset_uuid}{suffix}"
    final = ctx.confine(ctx.params.get("output_path") or default_out)
    if final.is_dir():
        final = final / f"{source.name}{suffix}"
    if final == source or source in final.parents:
        raise InvalidInput("output_path must not be inside the directory being compressed")
    check_tree(source, ctx.scope, what="input")
    entries = list(walk_entries(source))
    total = sum(p.stat().st_size for p in entries if p.is_file() and not p.is_symlink())
    require_free_space(final.parent, total // 2)
    partial = partial_path(final, ctx.attempt)
    manifest_final = final.with_name(final.name + ".manifest.json")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        sums, archive_sha, archive_bytes = write_archive(
            ctx, source, entries, partial, is_zstd=is_zstd, level=level, threads=threads, total=total,
            checksums=checksums,
        )
        if checksums:
            write_json(partial_path(manifest_final, ctx.attempt), {"archive_sha256": archive_sha, "files": sums})
            promote(partial_path(manifest_final, ctx.attempt), manifest_final, ctx=ctx)
        promote(partial, final, ctx=ctx)
    except BaseException:
        remove_path(partial)
        remove_path(partial_path(manifest_final, ctx.attempt))
        raise
    duration = round(time.monotonic() - started, 3)
    ratio = round(archive_bytes / total, 4) if total else None
    ctx.progress(100, "compressed")
    return {
        "status": "success",
        "message": f"compressed {len(entries)} entries, {total} bytes to {archive_bytes} ({fmt}) in {duration}s",
        "archive": str(final),
        "format": suffix.lstrip("."),
        "level": level,
        "files": len(entries),
        "input_bytes": total,
        "archive_bytes": archive_bytes,
        "ratio": ratio,
        "archive_sha256": archive_sha,
        "duration_seconds": duration,
        "mb_per_second": round(total / 1e6 / max(duration, 1e-6), 1),
        "file_checksums": dict(list(sums.items())[:RESULT_CHECKSUM_LIMIT]),
        "manifest": str(manifest_final) if checksums else None,
    }


def walk_entries(root: Path) -> Iterator[Path]:
    """Directories, files and links under ``root`` in a stable order (partial outputs skipped)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if PARTIAL_MARK not in d)
        base = Path(dirpath)
        for name in dirnames:
            yield base / name
        for name in sorted(filenames):
            if PARTIAL_MARK not in name:
                yield base / name


def open_compressor(out: HashingSink, *, is_zstd: bool, level: int, threads: int) -> Any:
    """A file-like compressor writing into ``out``: a ``zstd`` process when the command is there
    (:mod:`sccli.handlers.zstdpipe`), else ``zstandard`` or ``lz4`` in this process."""
    tool = zstdpipe.zstd_command() if is_zstd else None
    if tool is not None:
        return ZstdPipeWriter(tool, out, level=level, threads=max(threads, 1))
    try:
        if is_zstd:
            import zstandard

            compressor = zstandard.ZstdCompressor(level=level, threads=threads, write_checksum=True)
            # 1 MB writes to the sink, not zstd's 128 KB: a tenth of the hand-offs to the hashing thread
            return compressor.stream_writer(out, closefd=False, write_size=CHUNK)  # type: ignore[arg-type]
        import lz4.frame

        return lz4.frame.LZ4FrameFile(out, mode="wb", compression_level=level)
    except ImportError as exc:
        raise MissingExtra(f"compression needs {exc.name!r}: pip install 'sccli[formats]'") from None


class _Counted:
    """Forward writes and count them, so TarFile's plain "w" mode can write straight into a
    compressor (stream mode "w|" would copy every block through its own buffer first)."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.position = 0

    def write(self, data: bytes) -> int:
        self.position += len(data)
        self.target.write(data)
        return len(data)

    def tell(self) -> int:
        return self.position


def tar_writer(stream: Any) -> tarfile.TarFile:
    """A TarFile (PAX) writing into the compressor ``stream``."""
    return tarfile.TarFile(fileobj=_Counted(stream), mode="w", copybufsize=CHUNK, format=tarfile.PAX_FORMAT)  # type: ignore[arg-type]


def write_archive(
    ctx: JobContext, source: Path, entries: list[Path], partial: Path, *, is_zstd: bool, level: int, threads: int,
    total: int, checksums: bool,
) -> tuple[dict[str, str], str, int]:
    """Stream a tar of ``entries`` through the compressor into ``partial``; (sums, sha256, size)."""
    done = [0, time.monotonic()]

    def on_bytes(n: int) -> None:
        done[0] += n
        if time.monotonic() - done[1] > 0.5:
            done[1] = time.monotonic()
            ctx.progress(99.0 * done[0] / max(total, 1), f"compressed {done[0]} of {total} bytes")

    digests: dict[str, Any] = {}
    hasher = InlineHasher() if is_zstd and zstdpipe.zstd_command() else HashWorker()
    buffer = memoryview(bytearray(CHUNK))  # every file is read through it (HashWorker copies what it queues)
    try:
        with open(partial, "wb") as raw, Writeback(raw) as durable:
            sink = HashingSink(durable, hasher)
            stream = open_compressor(sink, is_zstd=is_zstd, level=level, threads=threads)
            with stream, tar_writer(stream) as tar:
                top = tar.gettarinfo(str(source), source.name)
                top.mode &= ~SPECIAL_BITS
                tar.addfile(top)
                for path in entries:
                    arcname = f"{source.name}/{path.relative_to(source).as_posix()}"
                    info = tar.gettarinfo(str(path), arcname)
                    info.mode &= ~SPECIAL_BITS
                    if not info.isreg():
                        tar.addfile(info)
                        continue
                    with open_nofollow(path) as fh:
                        reader = HashingSource(fh, on_bytes, hasher if checksums else None, buffer)
                        # views: TarFile only takes len() of what it reads and writes it on
                        tar.addfile(info, reader)  # type: ignore[arg-type]
                        if reader.digest is not None:
                            digests[arcname] = reader.digest
            durable.finish()
    finally:
        hasher.close()
    sums = {name: digest.hexdigest() for name, digest in digests.items()}
    return sums, sink.digest.hexdigest(), sink.bytes


def cleanup(job: dict[str, Any], settings: Settings) -> None:
    """Remove a partial archive (and manifest) a killed compression left."""
    remove_partials(job, settings, "output_path")
