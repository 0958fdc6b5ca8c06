"""File checksums and manifests: ``{"files": {relative path: {"size", "sha256"}}}``.

Backups write one beside their archive; data_validation checks a dataset against one (or
builds it). Paths in a manifest use ``/`` and are relative to a named root (``input/...``,
``output/...``), so the same manifest checks a dataset and its backup.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sccli.clock import utcnow
from sccli.handlers.containment import open_nofollow
from sccli.handlers.staging import PARTIAL_MARK

CHUNK = 1024 * 1024
MANIFEST_VERSION = 1


class HashWorker:
    """Feeds sha256 digests on a thread of its own: hashlib releases the GIL, so hashing runs
    beside compression instead of after it."""

    def __init__(self, depth: int = 64) -> None:
        self.queue: queue.Queue[tuple[Any, bytes | memoryview] | None] = queue.Queue(maxsize=depth)
        self.thread = threading.Thread(target=self._work, name="sc-hash", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        while (item := self.queue.get()) is not None:
            item[0].update(item[1])
            self.queue.task_done()

    def wait(self) -> None:
        """Wait until every piece queued so far is hashed (the caller may then drop or reuse them)."""
        self.queue.join()

    def update(self, digest: Any, data: bytes | memoryview, *, copy: bool = True) -> None:
        """Queue ``data`` for ``digest`` (a memoryview is copied unless the caller keeps it unchanged)."""
        self.queue.put((digest, bytes(data) if copy and not isinstance(data, bytes) else data))

    def close(self) -> None:
        """Wait until every queued piece is hashed."""
        self.queue.put(None)
        self.thread.join()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open_nofollow(path) as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def walk_files(root: Path) -> Iterator[Path]:
    """Regular files under ``root`` in a stable order, skipping partial outputs and links."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if PARTIAL_MARK not in d)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if PARTIAL_MARK in name or path.is_symlink() or not path.is_file():
                continue
            yield path


def build_manifest(roots: dict[str, Path], *, on_file: Callable[[Path, int], None] | None = None) -> dict[str, Any]:
    """A manifest of every file under each named root (``{"input": Path(...)}``)."""
    files: dict[str, dict[str, Any]] = {}
    for label, root in roots.items():
        if not root.is_dir():
            continue
        for path in walk_files(root):
            size = path.stat().st_size
            files[f"{label}/{path.relative_to(root).as_posix()}"] = {"size": size, "sha256": sha256_file(path)}
            if on_file is not None:
                on_file(path, size)
    return {"version": MANIFEST_VERSION, "created_at": utcnow().isoformat(), "files": files}


def manifest_totals(manifest: dict[str, Any]) -> tuple[int, int]:
    """(file count, total bytes) of a manifest."""
    entries = manifest.get("files") or {}
    return len(entries), sum(int(e.get("size") or 0) for e in entries.values())


def compare_manifest(expected: dict[str, Any], roots: dict[str, Path]) -> dict[str, list[str]]:
    """What differs between a manifest and the files now on disk: missing, changed, extra."""
    problems: dict[str, list[str]] = {"missing": [], "changed": [], "extra": []}
    want = expected.get("files") or {}
    seen: set[str] = set()
    for label, root in roots.items():
        if not root.is_dir():
            continue
        for path in walk_files(root):
            key = f"{label}/{path.relative_to(root).as_posix()}"
            seen.add(key)
            entry = want.get(key)
            if entry is None:
                problems["extra"].append(key)
            elif entry.get("size") != path.stat().st_size or entry.get("sha256") != sha256_file(path):
                problems["changed"].append(key)
    problems["missing"] = sorted(k for k in want if k not in seen)
    return problems


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON through a temporary file so readers never see half a manifest."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str))
    os.replace(tmp, path)
