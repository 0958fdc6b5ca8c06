"""The handler interface shared by the service (which runs handlers) and the handlers.

A handler is a function ``run(ctx: JobContext) -> dict``. The service calls it in a child
process of its own (own process group); the child never touches the database. The handler
reads ``ctx.job`` and ``ctx.settings``, writes its log through ``ctx.log``, reports progress
with ``ctx.progress`` (the service forwards it to the job at most once a second), and returns
a result dict with at least ``status`` and ``message``. Raising :class:`HandlerError` (or any
exception) fails the attempt with that message.

A handler module may also define ``cleanup(job, settings) -> None``: the service calls it
after it killed the handler (cancel or timeout) to remove partial output.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sccli.errors import InvalidInput, ScError
from sccli.handlers.containment import Scope
from sccli.settings import Settings


class HandlerError(ScError):
    """A handler's own failure: bad parameters it found, a failed tool, unreadable input."""


class ProgressSink(Protocol):
    def __call__(self, percentage: float | None, message: str | None) -> None: ...


#: Asked before an output is renamed into place (its final path); True while the attempt holds the lease.
Gate = Callable[[str], bool]


def _no_progress(percentage: float | None, message: str | None) -> None:
    return None


@dataclass
class JobContext:
    """What a handler gets: the job document, the settings, a logger, a progress sink and the
    gate that says whether this attempt may still put outputs in place (None: always)."""

    job: dict[str, Any]
    settings: Settings
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("sccli.handler"))
    report: ProgressSink = _no_progress
    gate: Gate | None = None

    @property
    def attempt(self) -> str:
        """This attempt's name, ``<job_id>-<lease8>``: the tag of its partial outputs."""
        return attempt_tag(self.job)

    def may_promote(self, final: str | os.PathLike[str]) -> bool:
        """Whether this attempt still holds the job's lease, so it may rename ``final`` into place."""
        return self.gate is None or self.gate(str(final))

    @property
    def params(self) -> dict[str, Any]:
        return self.job.get("parameters") or {}

    @property
    def dataset_uuid(self) -> str:
        return str(self.job["dataset_uuid"])

    def progress(self, percentage: float | None = None, message: str | None = None) -> None:
        """Report progress (0-100) and/or a short message."""
        self.report(percentage, message)

    def confine(self, path: str | os.PathLike[str], *, must_exist: bool = False) -> Path:
        """Resolve ``path`` (symlinks followed) and refuse it unless it lies inside a data directory
        and outside every other dataset's directory."""
        return confine_path(path, self.settings.data_dirs, must_exist=must_exist, dataset_uuid=self.dataset_uuid)

    @property
    def scope(self) -> Scope:
        """Where this job may reach: the data directories but other datasets' directories."""
        return Scope(self.settings.data_dirs, self.dataset_uuid)


Handler = Callable[[JobContext], dict[str, Any]]


def attempt_tag(job: dict[str, Any]) -> str:
    """``<job_id>-<first 8 characters of the lease token>``, or the job id for a job without a lease."""
    token = str(job.get("lease_token") or "")
    return f"{job.get('job_id')}-{token[:8]}" if token else str(job.get("job_id"))


def confine_path(
    path: str | os.PathLike[str], roots: list[Path], *, must_exist: bool = False, dataset_uuid: str | None = None
) -> Path:
    """The resolved path if it is inside one of ``roots`` (and, given ``dataset_uuid``, not inside
    another dataset's ``<root>/<uuid>``); InvalidInput otherwise."""
    if path is None or str(path) == "":
        raise InvalidInput("empty path")
    resolved = Path(path).expanduser().resolve(strict=False)
    scope = Scope(roots, dataset_uuid)
    if dataset_uuid and scope.contains(str(resolved)) and not scope.holds(str(resolved)):
        raise InvalidInput(f"path {path} {scope.outside(str(resolved))}: name the dataset's own directory")
    other = scope.other_dataset(str(resolved))
    if other:
        raise InvalidInput(f"path {path} is inside the directory of another dataset ({other})")
    for root in roots:
        base = Path(root).expanduser().resolve(strict=False)
        if resolved == base or base in resolved.parents:
            if must_exist and not resolved.exists():
                raise InvalidInput(f"path {path} does not exist")
            return resolved
    raise InvalidInput(f"path {path} is outside the configured data directories")
