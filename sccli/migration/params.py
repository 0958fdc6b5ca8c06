"""The job type's parameter declaration (``sccli.handlers.specs``) applied to migrated jobs.

A dataset whose job parameters its handler would refuse (an unknown name, a wrong type, a path
outside the data directories) is a problem of the plan, not a job that fails on every attempt.
The declaration is checked by :func:`~sccli.handlers.specs.check_parameters`; the paths are
confined here with the data directories resolved once per run: resolving them again for every
dataset cost about a millisecond each, longer than everything else the plan does.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from sccli.errors import InvalidInput
from sccli.settings import Settings


class ParameterCheck:
    """Checks one migrated job's parameters against its type's declaration."""

    def __init__(self, settings: Settings) -> None:
        from sccli.handlers.specs import check_parameters, spec_for

        self._check = check_parameters
        self._spec_for = spec_for
        self._path_names: dict[str, tuple[str, ...]] = {}
        self._roots = tuple(os.path.realpath(os.path.expanduser(str(d))) for d in settings.data_dirs)
        self._real_dir = lru_cache(maxsize=4096)(os.path.realpath)

    def problems(self, job_type: str, params: dict[str, Any]) -> list[str]:
        """``["job refused: ..."]`` naming the first refused parameter, or ``[]``."""
        try:
            self._check(job_type, params)  # names, types, choices, ranges: paths below
        except InvalidInput as exc:
            return [f"job refused: {exc}"]
        for name in self._paths_of(job_type):
            value = params.get(name)
            for item in [value] if isinstance(value, str) else value if isinstance(value, list) else []:
                if not self._inside(item):
                    return [f"job refused: parameter {name!r}: path {item} is outside the configured data directories"]
        return []

    def _paths_of(self, job_type: str) -> tuple[str, ...]:
        if job_type not in self._path_names:
            self._path_names[job_type] = tuple(p.name for p in self._spec_for(job_type) or () if p.path)
        return self._path_names[job_type]

    def _inside(self, path: str) -> bool:
        """The same rule as the handlers' (symlinks followed), resolving each parent directory
        once: a plain last component adds one ``lstat``."""
        head, tail = os.path.split(path)
        if not os.path.isabs(path) or path.startswith("~") or tail in ("", ".", "..") or ".." in path.split(os.sep) or os.path.islink(path):
            real = os.path.realpath(os.path.expanduser(path))
        else:
            real = os.path.join(self._real_dir(head), tail)
        return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in self._roots)
