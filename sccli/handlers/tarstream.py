"""Reading a (compressed) tar as a stream: decompression on a thread of its own, member data
handed out as views of its chunks (no copies), for :func:`sccli.handlers.archives.extract_tar` and
the validation's archive reads. The safety checks stay in :mod:`sccli.handlers.archives`."""

from __future__ import annotations

import importlib
import queue
import tarfile
import threading
from pathlib import Path
from typing import IO, Any

from sccli.errors import MissingExtra

CHUNK = 1024 * 1024
#: Decompressed bytes the prefetch thread produces at a time (larger reads: fewer hand-offs).
PREFETCH_CHUNK = 4 * 1024 * 1024


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


def _decompressor(raw: IO[bytes], comp: str) -> IO[bytes]:
    if comp == "zst":
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(raw, read_size=CHUNK)  # type: ignore[no-any-return]
    if comp == "lz4":
        import lz4.frame

        return lz4.frame.LZ4FrameFile(raw, mode="rb")  # type: ignore[no-any-return]
    module = importlib.import_module({"gz": "gzip", "bz2": "bz2", "xz": "lzma"}[comp])
    return module.open(raw, "rb")  # type: ignore[no-any-return]


def open_tar_stream(path: Path, comp: str) -> tuple[Any, Any]:
    """A streaming TarFile over ``path`` (comp: "", gz, bz2, xz, zst, lz4) and what to close after it."""
    raw = open(path, "rb")
    if not comp:
        return tarfile.open(fileobj=raw, mode="r|", bufsize=CHUNK), raw
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


class MemberReader:
    """The data of one regular tar member, read straight from the prefetcher as views (instead of
    through TarFile's extractfile, whose layers copy every block twice)."""

    def __init__(self, prefetch: Prefetcher, member: tarfile.TarInfo) -> None:
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
