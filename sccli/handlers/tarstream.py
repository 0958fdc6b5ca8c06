"""Reading a (compressed) tar as a stream, for :func:`sccli.handlers.archives.extract_tar` and the
validation's archive reads; member data is handed out as views (no copies). The safety checks
stay in :mod:`sccli.handlers.archives`.

A ``.tar.zst`` is decompressed as ``tar --zstd`` does it: by a ``zstd -dc`` process of its own
writing into a pipe, read into one reused buffer (:class:`BlockReader`, :class:`ZstdProcess`), so
decompression runs beside unpacking on another core with no thread of ours. A Python thread
(:class:`Prefetcher`) did the same with worse results: on a busy host every hand-off of the GIL
between the two threads waited for a CPU (docs/archives-speed.md). Without the ``zstd`` command
the ``zstandard`` module decompresses into the same buffer in this thread. The other compressions
keep the prefetch thread.
"""

from __future__ import annotations

import fcntl
import importlib
import os
import queue
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Protocol

from sccli.errors import MissingExtra

CHUNK = 1024 * 1024
#: Decompressed bytes the prefetch thread produces at a time (larger reads: fewer hand-offs).
PREFETCH_CHUNK = 4 * 1024 * 1024
#: The reused buffer of a :class:`BlockReader`, and the pipe from ``zstd`` (Linux's default
#: ``pipe-max-size``): 16 times the default pipe, so ``zstd`` runs ahead without waiting on us.
BLOCK_BUFFER = 1024 * 1024
#: What is read after the tar's end-of-archive blocks so that ``zstd`` can judge the rest of its
#: frame (the checksum at its end); the tar padding is far smaller.
TRAILER_LIMIT = 16 * 1024 * 1024
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class ViewSource(Protocol):
    """A forward-only byte stream that hands member data out as views (:class:`MemberReader`)."""

    def read_view(self, n: int) -> memoryview: ...

    def seek(self, target: int, whence: int = 0) -> int: ...


class Prefetcher:
    """Reads a decompressing file on a thread of its own, so decompression (which releases the
    GIL) overlaps unpacking and writing, as ``tar | zstd -d`` overlaps them in two processes."""

    def __init__(self, source: IO[bytes], depth: int = 8) -> None:
        self.source = source
        self.queue: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=depth)
        self.stopped = threading.Event()
        self.buffer = b""
        self.offset = 0
        self.position = 0
        self.eof = False
        self.thread = threading.Thread(target=self._fill, name="sc-prefetch", daemon=True)
        self.thread.start()

    def _put(self, item: bytes | BaseException) -> None:
        while not self.stopped.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _fill(self) -> None:
        try:
            while not self.stopped.is_set():
                data = self.source.read(PREFETCH_CHUNK)
                self._put(data)
                if not data:
                    return
        except BaseException as exc:  # handed to the reader, which raises it in its own thread
            self._put(exc)

    def _next_chunk(self) -> None:
        item = self.queue.get()
        if isinstance(item, BaseException):
            raise item
        self.buffer, self.offset, self.eof = item, 0, not item

    def read(self, n: int = -1) -> bytes:
        """Exactly ``n`` bytes (all that is left with -1), fewer only at the end, like a file."""
        pieces: list[bytes] = []
        need = n if n >= 0 else float("inf")
        while need > 0:
            if self.offset >= len(self.buffer):
                if self.eof:
                    break
                self._next_chunk()
                continue
            take = int(min(need, len(self.buffer) - self.offset))
            whole = self.offset == 0 and take == len(self.buffer)
            # a whole chunk is not copied
            pieces.append(self.buffer if whole else self.buffer[self.offset:self.offset + take])
            self.offset += take
            self.position += take
            need -= take
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def read_view(self, n: int) -> memoryview:
        """Up to ``n`` bytes (at least one unless at the end) as a view into the current chunk:
        member data goes from the decompressor to the output file without a copy."""
        if self.offset >= len(self.buffer):
            if self.eof:
                return memoryview(b"")
            self._next_chunk()
            if self.eof:
                return memoryview(b"")
        take = min(n, len(self.buffer) - self.offset)
        view = memoryview(self.buffer)[self.offset:self.offset + take]
        self.offset += take
        self.position += take
        return view

    def tell(self) -> int:
        return self.position

    def seek(self, target: int, whence: int = 0) -> int:
        """Forward only (TarFile's plain "r" mode seeks to each member's data in order)."""
        if whence != 0 or target < self.position:
            raise OSError(f"cannot seek back in a compressed stream (to {target}, at {self.position})")
        while self.position < target:
            if not self.read(target - self.position):
                break
        return self.position

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)


class ZstdToolError(OSError):
    """``zstd -dc`` refused the archive's bytes (its own message): the archive is damaged."""


def zstd_tool() -> str | None:
    """The ``zstd`` command (None: decompress in this process with the ``zstandard`` module)."""
    return shutil.which("zstd")


class ZstdProcess:
    """``zstd -dcq`` over an archive, its output a pipe; :meth:`fill` reads it into a buffer."""

    def __init__(self, tool: str, path: Path) -> None:
        self.proc = subprocess.Popen([tool, "-dcq", "--", str(path)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        assert self.proc.stdout is not None
        self.fd = self.proc.stdout.fileno()
        try:
            fcntl.fcntl(self.fd, _F_SETPIPE_SZ, BLOCK_BUFFER)
        except OSError:  # a lower pipe-max-size: the default pipe still works, with more wake-ups
            pass

    def fill(self, view: memoryview) -> int:
        """Read what the pipe holds into ``view``; 0 at the end, ZstdToolError when zstd failed."""
        got = os.readv(self.fd, [view])
        if got == 0 and self.proc.wait() != 0:
            assert self.proc.stderr is not None
            words = self.proc.stderr.read(4096).decode(errors="replace").strip().splitlines()
            raise ZstdToolError(f"zstd: {words[-1] if words else f'exit code {self.proc.returncode}'}")
        return got

    def close(self) -> None:
        """Stop ``zstd`` if it still runs (an archive refused half-way) and reap it."""
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class BlockReader:
    """A forward-only file over ``fill`` (which reads into a buffer it is given) with one reused
    buffer: headers are read as small copies, member data as views of the buffer."""

    def __init__(self, fill: Callable[[memoryview], int], size: int = BLOCK_BUFFER) -> None:
        self.fill = fill
        self.view = memoryview(bytearray(size))
        self.start = self.end = self.position = 0
        self.eof = False

    def _refill(self) -> bool:
        """Read the next block into the buffer (views handed out before are spent); False at the end."""
        if self.eof:
            return False
        self.start, self.end = 0, self.fill(self.view)
        self.eof = self.end == 0
        return not self.eof

    def read_view(self, n: int) -> memoryview:
        """Up to ``n`` bytes (at least one unless at the end) as a view into the buffer, valid
        until the next read: member data goes from the decompressor to the output file uncopied."""
        if self.start >= self.end and not self._refill():
            return memoryview(b"")
        take = min(n, self.end - self.start)
        view = self.view[self.start:self.start + take]
        self.start += take
        self.position += take
        return view

    def read(self, n: int = -1) -> bytes:
        """Exactly ``n`` bytes (all that is left with -1), fewer only at the end, like a file."""
        pieces: list[bytes] = []
        need = n if n >= 0 else float("inf")
        while need > 0 and (view := self.read_view(int(min(need, BLOCK_BUFFER)))):
            pieces.append(bytes(view))
            need -= len(view)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def tell(self) -> int:
        return self.position

    def seek(self, target: int, whence: int = 0) -> int:
        """Forward only (TarFile's plain "r" mode seeks to each member's data in order)."""
        if whence != 0 or target < self.position:
            raise OSError(f"cannot seek back in a compressed stream (to {target}, at {self.position})")
        while self.position < target and self.read_view(target - self.position):
            pass
        return self.position

    def seekable(self) -> bool:
        return True

    def finish(self) -> None:
        """Read on past the tar's end (up to :data:`TRAILER_LIMIT`) so a damaged end of the
        compressed stream (its checksum) is reported as the tool reports it."""
        left = TRAILER_LIMIT
        while left > 0 and (view := self.read_view(left)):
            left -= len(view)


def _zstd_reader(path: Path, raw: IO[bytes]) -> tuple[BlockReader, Any]:
    """A BlockReader over the decompressed ``path``, and what to close after it."""
    tool = zstd_tool()
    if tool is not None:
        process = ZstdProcess(tool, path)
        return BlockReader(process.fill), process
    try:
        import zstandard
    except ImportError as exc:
        raise MissingExtra(f"reading {path.name} needs the zstd command or {exc.name!r}: "
                           "pip install 'sccli[formats]'") from None
    # read_across_frames: a multi-frame file (pzstd, concatenated frames) is one stream, as zstd -dc reads it
    source = zstandard.ZstdDecompressor().stream_reader(raw, read_size=CHUNK, read_across_frames=True)
    return BlockReader(source.readinto), source


def _decompressor(raw: IO[bytes], comp: str) -> IO[bytes]:
    if comp == "zst":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw, read_size=CHUNK)
    if comp == "lz4":
        import lz4.frame

        return lz4.frame.LZ4FrameFile(raw, mode="rb")
    module = importlib.import_module({"gz": "gzip", "bz2": "bz2", "xz": "lzma"}[comp])
    return module.open(raw, "rb")


def open_tar_stream(path: Path, comp: str) -> tuple[Any, Any]:
    """A streaming TarFile over ``path`` (comp: "", gz, bz2, xz, zst, lz4) and what to close after it."""
    raw = open(path, "rb")
    if not comp:
        return tarfile.open(fileobj=raw, mode="r|", bufsize=CHUNK), raw
    if comp == "zst":
        return _open_zst(path, raw)
    try:
        prefetch = Prefetcher(_decompressor(raw, comp))
    except ImportError as exc:
        raw.close()
        raise MissingExtra(f"reading {path.name} needs {exc.name!r}: pip install 'sccli[formats]'") from None
    try:
        # plain "r" mode reads member data straight from the prefetcher (stream mode "r|" would
        # copy every block through its own buffer); members are visited in order, so seeks go forward
        archive = tarfile.TarFile(fileobj=prefetch, mode="r")  # type: ignore[arg-type]
    except BaseException:
        prefetch.close()
        raw.close()
        raise
    return archive, _Closing(prefetch, raw)


def _open_zst(path: Path, raw: IO[bytes]) -> tuple[Any, Any]:
    try:
        reader, decompressor = _zstd_reader(path, raw)
    except BaseException:
        raw.close()
        raise
    try:
        archive = tarfile.TarFile(fileobj=reader, mode="r")  # type: ignore[arg-type]
    except BaseException:
        _Closing(decompressor, raw).close()
        raise
    return archive, _Closing(decompressor, raw)


class MemberReader:
    """The data of one regular tar member, read straight from the stream as views (instead of
    through TarFile's extractfile, whose layers copy every block twice)."""

    def __init__(self, prefetch: ViewSource, member: tarfile.TarInfo) -> None:
        prefetch.seek(member.offset_data)
        self.prefetch = prefetch
        self.left = member.size
        self.name = member.name

    def read(self, n: int = CHUNK) -> memoryview:
        if self.left <= 0:
            return memoryview(b"")
        view = self.prefetch.read_view(min(n, self.left))
        if not view:
            raise tarfile.ReadError(f"unexpected end of data in {self.name!r}")
        self.left -= len(view)
        return view


class _Closing:
    """Closes the prefetch thread, then the file."""

    def __init__(self, *parts: Any) -> None:
        self.parts = parts

    def close(self) -> None:
        for part in self.parts:
            part.close()
