"""Output staging: write under a temporary name that carries the attempt, rename on success,
and let ``cleanup`` find and remove what a killed attempt left behind.

A partial name is ``.<final name>.sc-partial-<job_id>-<lease8>`` beside the final path (the first
8 characters of the attempt's lease token; just ``<job_id>`` for a job run without a lease), so it
is on the same file system (the rename is atomic), a later cleanup finds it from the job alone,
and two attempts of one job (a paused "zombie" and the one that replaced it) never share a file.
Only the attempt that still holds the lease renames its output into place: :func:`promote` asks
the gate (the service, through the job's socket) first.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sccli.handlers.base import Gate, HandlerError, JobContext, attempt_tag, confine_path
from sccli.settings import Settings

PARTIAL_MARK = ".sc-partial-"

__all__ = ["attempt_tag", "install_gate", "partial_path", "promote", "require_lease", "remove_partials"]

_process_gate: Gate | None = None


def install_gate(gate: Gate | None) -> None:
    """Set the gate of this process's attempt (the job child does it before the handler runs)."""
    global _process_gate
    _process_gate = gate


def partial_path(final: Path, attempt: str) -> Path:
    """The temporary sibling of ``final`` that this attempt writes first (``attempt``: ``ctx.attempt``)."""
    return final.with_name(f".{final.name}{PARTIAL_MARK}{attempt}")


def require_lease(final: Path, ctx: JobContext | None = None) -> None:
    """Refuse (HandlerError) to put ``final`` in place unless this attempt still holds the job's lease.

    The gate is the context's, else the one installed for this process; without one (handler unit
    tests) promotion proceeds."""
    gate = ctx.gate if ctx is not None and ctx.gate is not None else _process_gate
    if gate is not None and not gate(str(final)):
        raise HandlerError(f"not putting {final} in place: this attempt no longer holds the job's lease "
                           "(the job was re-queued and another attempt owns it)")


def remove_path(path: Path) -> None:
    """Remove a file, link or directory tree; missing is fine."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)


def promote(partial: Path, final: Path, *, replace: bool = True, ctx: JobContext | None = None) -> None:
    """Rename ``partial`` to ``final`` if this attempt holds the lease; an existing ``final`` is
    replaced (or refused)."""
    require_lease(final, ctx)
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


def find_partials(roots: Iterable[Path], attempt: str, *, deep: Iterable[Path] = ()) -> list[Path]:
    """Partial outputs of one attempt (:func:`attempt_tag`): directly under each of ``roots`` and
    anywhere under ``deep``. Another attempt's partials are never among them."""
    mark = f"{PARTIAL_MARK}{attempt}"
    found: list[Path] = []
    for root in roots:
        if root.is_dir():
            found += [p for p in root.iterdir() if p.name.endswith(mark)]
    for top in deep:
        if not top.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            for name in list(dirnames):
                if name.endswith(mark):
                    found.append(Path(dirpath) / name)
                    dirnames.remove(name)
            found += [Path(dirpath) / n for n in filenames if n.endswith(mark)]
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
    """Remove every partial output of ``job``'s attempt (its lease); returns what was removed."""
    roots, deep = job_dirs(job, settings, *param_keys)
    removed = sorted(set(find_partials(roots, attempt_tag(job), deep=deep)))
    for path in removed:
        remove_path(path)
    return removed


#: Parameters naming where built-in handlers write: their partials sit beside or below them.
OUTPUT_KEYS = ("destination", "output_path")


def partial_pattern(job_id: str) -> re.Pattern[str]:
    """Names of the partials of every attempt of ``job_id`` (with or without a lease suffix)."""
    return re.compile(re.escape(f"{PARTIAL_MARK}{job_id}") + r"(-[^/]{8})?$")


def earlier_partials(job: dict[str, Any], settings: Settings, *, keep_own: bool = True) -> list[Path]:
    """Partials of ``job``'s other attempts (an attempt that died with its service): beside the
    data directories' entries, its outputs and anywhere under its dataset's directories. This
    attempt's own are kept (``keep_own=False``: a job that has ended keeps none)."""
    roots, deep = job_dirs(job, settings, *OUTPUT_KEYS)
    pattern = partial_pattern(str(job.get("job_id")))
    own = f"{PARTIAL_MARK}{attempt_tag(job)}" if keep_own else None

    def match(name: str) -> bool:
        return bool(pattern.search(name)) and not (own is not None and name.endswith(own))

    found = [p for root in roots if root.is_dir() for p in root.iterdir() if match(p.name)]
    for top in deep:
        for dirpath, dirnames, filenames in os.walk(top):
            found += [Path(dirpath) / n for n in dirnames + filenames if match(n)]
            dirnames[:] = [d for d in dirnames if PARTIAL_MARK not in d]
    return sorted(set(found))


def remove_earlier_partials(job: dict[str, Any], settings: Settings, *, keep_own: bool = True) -> list[Path]:
    """Remove what :func:`earlier_partials` finds (whoever recovers the job calls it); returns it."""
    found = earlier_partials(job, settings, keep_own=keep_own)
    for path in found:
        remove_path(path)
    return found
