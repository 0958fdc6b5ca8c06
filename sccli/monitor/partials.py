"""Orphaned partial outputs: ``.<name>.sc-partial-<job_id>[-<lease8>]`` entries whose job has ended.

A partial is removed by its own attempt (on failure), by the handler's cleanup (after a kill) and
by whoever recovers a job whose service died (the next attempt, or the stale re-queue). What
still escapes (a service that died while the job's last attempt was being recorded, a paused
attempt that wrote on after its job ended) is found here: the data directories are walked
without following links (nor entering a partial tree), and an entry goes when its job has ended
(completed, failed or cancelled) or no longer exists. Partials of scheduled, pending and running jobs are
left to their attempts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sccli.domain import ACTIVE_STATUSES
from sccli.handlers.staging import PARTIAL_MARK, remove_path
from sccli.store.base import JobQuery, Store

#: Job ids looked up per round trip.
BATCH = 1000
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_NAME = re.compile(re.escape(PARTIAL_MARK) + rf"(?P<job>{_UUID})(-[^/]{{8}})?$")
_ACTIVE = {s.value for s in ACTIVE_STATUSES}  # a scheduled retry resumes from its partials too


@dataclass
class PartialTally:
    """Orphaned partial outputs removed (or, dry, that would be), and those that could not be."""

    found: int = 0
    removed: int = 0
    failed: int = 0
    first_error: str | None = None
    paths: list[str] = field(default_factory=list)


def _partials(roots: Iterable[Path]) -> Iterator[tuple[Path, str]]:
    """(path, job id) of every partial output under ``roots``."""
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                match = _NAME.search(name)
                if match:
                    yield Path(dirpath) / name, match.group("job")
            dirnames[:] = [d for d in dirnames if PARTIAL_MARK not in d]


def _active(store: Store, job_ids: list[str]) -> set[str]:
    """Those of ``job_ids`` whose job is active (scheduled, pending or running)."""
    active: set[str] = set()
    for start in range(0, len(job_ids), BATCH):
        query = JobQuery(job_ids=job_ids[start : start + BATCH], status=sorted(_ACTIVE))
        active |= {doc["job_id"] for doc in store.find_jobs(query, sort=())}
    return active


def sweep_partials(store: Store, data_dirs: Iterable[str | os.PathLike[str]], *, dry_run: bool = False) -> PartialTally:
    """Remove (``dry_run``: count) the partial outputs under ``data_dirs`` whose job has ended."""
    found = list(_partials(Path(d) for d in data_dirs))
    active = _active(store, sorted({job for _, job in found}))
    tally = PartialTally()
    for path, job_id in found:
        if job_id in active:
            continue
        tally.found += 1
        tally.paths.append(str(path))
        if dry_run:
            continue
        try:
            remove_path(path)
        except OSError as exc:
            tally.failed += 1
            tally.first_error = tally.first_error or f"{path}: {exc.strerror or exc}"
        else:
            tally.removed += 1
    return tally
