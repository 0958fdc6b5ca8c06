"""Output staging: write under a temporary name that carries the job id, rename on success,
and let ``cleanup`` find and remove what a killed job left behind.

A partial name is ``.<final name>.sc-partial-<job_id>`` beside the final path, so it is on the
same file system (the rename is atomic) and a later cleanup can find it from the job alone.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sccli.handlers.base import HandlerError, confine_path
from sccli.settings import Settings

PARTIAL_MARK = ".sc-partial-"


def partial_path(final: Path, job_id: str) -> Path:
    """The temporary sibling of ``final`` that this job writes first."""
    return final.with_name(f".{final.name}{PARTIAL_MARK}{job_id}")


def remove_path(path: Path) -> None:
    """Remove a file, link or directory tree; missing is fine."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)


def promote(partial: Path, final: Path, *, replace: bool = True) -> None:
    """Rename ``partial`` to ``final``; an existing ``final`` is replaced (or refused)."""
    if final.exists() or final.is_symlink():
        if not replace:
            raise HandlerError(f"{final} already exists")
        if final.is_dir() and not final.is_symlink():
            old = final.with_name(f".{final.name}.sc-old-{os.getpid()}")
            final.rename(old)
            partial.rename(final)
            shutil.rmtree(old, ignore_errors=True)
            return
    os.replace(partial, final)


def free_bytes(path: Path) -> int:
    """Free bytes on the file system holding ``path`` (or its nearest existing parent)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def require_free_space(path: Path, needed: int, *, reserve: int = 64 * 1024 * 1024) -> None:
    """Refuse to start writing ``needed`` bytes under ``path`` when the disk cannot take them."""
    free = free_bytes(path)
    if needed + reserve > free:
        raise HandlerError(f"not enough free space under {path}: need {needed + reserve} bytes, {free} free")


def find_partials(roots: Iterable[Path], job_id: str, *, deep: Iterable[Path] = ()) -> list[Path]:
    """Partial outputs of ``job_id``: directly under each of ``roots`` and anywhere under ``deep``."""
    mark = f"{PARTIAL_MARK}{job_id}"
    found: list[Path] = []
    for root in roots:
        if root.is_dir():
            found += [p for p in root.iterdir() if mark in p.name]
    for top in deep:
        if not top.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            for name in list(dirnames):
                if mark in name:
                    found.append(Path(dirpath) / name)
                    dirnames.remove(name)
            found += [Path(dirpath) / n for n in filenames if mark in n]
    return found


def job_dirs(job: dict[str, Any], settings: Settings, *param_keys: str) -> tuple[list[Path], list[Path]]:
    """(roots, deep) to search for a job's partials: the data dirs and their ``<uuid>`` entries,
    plus the confined directories named by ``param_keys`` in the job's parameters."""
    roots = [Path(d) for d in settings.data_dirs]
    uuid = str(job.get("dataset_uuid") or "")
    deep = [r / uuid for r in roots if uuid]
    params = job.get("parameters") or {}
    for key in param_keys:
        values = params.get(key)
        for value in values if isinstance(values, list) else [values]:
            if not isinstance(value, str) or not value:
                continue
            try:
                path = confine_path(value, settings.data_dirs)
            except ValueError:
                continue
            roots.append(path.parent)
            if path.is_dir():
                deep.append(path)
    return roots, deep


def remove_partials(job: dict[str, Any], settings: Settings, *param_keys: str) -> list[Path]:
    """Remove every partial output of ``job``; returns what was removed."""
    roots, deep = job_dirs(job, settings, *param_keys)
    removed = find_partials(roots, str(job.get("job_id")), deep=deep)
    for path in removed:
        remove_path(path)
    return removed
