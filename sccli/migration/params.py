"""The job type's parameter declaration (``sccli.handlers.specs``) applied to migrated jobs.

A dataset whose job parameters its handler would refuse (an unknown name, a wrong type, a path
outside the data directories) is a problem of the plan, not a job that fails on every attempt.
The declaration is checked by :func:`~sccli.handlers.specs.check_parameters`; the paths are
confined here by the same rule with every directory resolved once per run (``check_parameters``
with settings resolves the data directories and each path from scratch, about a millisecond per
dataset on a loaded host: longer than everything else the plan does).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from sccli.errors import InvalidInput
from sccli.settings import Settings


class Listings:
    """One ``scandir`` per data directory, taken when first needed: which entries are
    directories and which are links. Asking it about ``<in_data_dir>/<uuid>`` costs no system
    call, where a ``stat`` per dataset cost as much as the rest of the plan. A name missing from
    the listing (created since) is looked up on disk."""

    def __init__(self, directories: list[str]) -> None:
        self._wanted = {os.path.normpath(d) for d in directories}
        self._listed: dict[str, tuple[frozenset[str], frozenset[str]]] = {}

    def _listing(self, directory: str) -> tuple[frozenset[str], frozenset[str]] | None:
        if directory not in self._wanted:
            return None
        if directory not in self._listed:
            dirs, links = set(), set()
            try:
                with os.scandir(directory) as entries:
                    for entry in entries:
                        if entry.is_symlink():
                            links.add(entry.name)
                        elif entry.is_dir(follow_symlinks=False):
                            dirs.add(entry.name)
            except OSError:
                pass
            self._listed[directory] = (frozenset(dirs), frozenset(links))
        return self._listed[directory]

    def is_dir(self, path: str) -> bool:
        """``os.path.isdir(path)``, from the listing of its parent when it has one."""
        head, tail = os.path.split(os.path.normpath(path))
        listing = self._listing(head)
        if listing is not None and tail in listing[0]:
            return True
        return os.path.isdir(path)  # a link, or a name the listing does not have

    def is_link(self, path: str) -> bool:
        """``os.path.islink(path)`` for a normalised path, from its parent's listing when it
        has one (a link made after the listing is caught by the handler at run time)."""
        head, tail = os.path.split(path)
        listing = self._listing(head)
        if listing is not None:
            return tail in listing[1]
        return os.path.islink(path)


class ParameterCheck:
    """Checks one migrated job's parameters against its type's declaration."""

    def __init__(self, settings: Settings, listings: Listings | None = None) -> None:
        from sccli.handlers.specs import check_parameters, spec_for

        self.listings = listings or Listings([str(d) for d in settings.data_dirs])
        self._check = check_parameters
        self._spec_for = spec_for
        self._path_names: dict[str, tuple[str, ...]] = {}
        self._roots = frozenset(os.path.realpath(os.path.expanduser(str(d))) for d in settings.data_dirs)
        self._prefixes = tuple(root.rstrip(os.sep) + os.sep for root in self._roots)
        self._real = lru_cache(maxsize=65536)(self._resolve)

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
        """The handlers' rule (symlinks followed, ``..`` resolved), each directory resolved once."""
        if not os.path.isabs(path) or path.startswith("~") or ".." in path.split(os.sep):
            real = os.path.realpath(os.path.expanduser(path))
        else:
            real = self._real(os.path.normpath(path))
        return real in self._roots or real.startswith(self._prefixes)

    def _resolve(self, path: str) -> str:
        """``os.path.realpath`` of a normalised absolute path, built on its parent's (cached):
        a component that is not a link costs one ``lstat``."""
        head, tail = os.path.split(path)
        if not tail or head == path:
            return os.path.realpath(path)
        if self.listings.is_link(path):
            return os.path.realpath(path)
        return os.path.join(self._real(head), tail)
