"""Keeping what handlers read and write inside the data directories.

Two guards, for two moments:

- :func:`check_extracted_tree` runs on an extraction's finished staging tree, before anything is
  moved into place. It judges the tree as a whole, as it will be once merged into its
  destination: a link that was harmless when written can escape once a later member (another
  link, e.g. ``d -> .``) exists, so every link is resolved against the final tree, step by step,
  and each step must stay inside the data directories. Hard links with a name outside the tree,
  device files, FIFOs, sockets and ``-``-prefixed names are refused; setuid, setgid and sticky
  bits are stripped.
- :func:`check_tree` runs before a handler reads a dataset (conversion, compression, backup,
  validation, an rsync source): a link placed some other way that leads out of the data
  directories is refused, naming the path, and is never followed.

Both, and :func:`~sccli.handlers.base.confine_path`, judge per dataset when given the job's
``dataset_uuid`` (a :class:`Scope`): a dataset's directories are ``<data dir>/<uuid>``, so a
position inside ``<data dir>/<other uuid>`` belongs to another dataset and is refused exactly like
one outside the data directories. Entries of a data directory that do not name a dataset (an
upload's staging area such as ``<sync_data_dir>/incoming``, the backup directory) stay reachable.

:func:`open_nofollow` opens a file for reading without following a link swapped in after the
check.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from sccli.domain import is_valid_uuid
from sccli.errors import InvalidInput

#: Links followed while resolving one path before it counts as a loop (the kernel's limit).
MAX_LINK_HOPS = 40
SPECIAL_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX


class EscapingLink(InvalidInput):
    """A link (or hard link) leads out of the data directories: refused, never followed."""


def real_roots(roots: Iterable[str | os.PathLike[str]]) -> list[str]:
    """The data directories as real paths (links resolved)."""
    return [os.path.realpath(os.path.expanduser(str(r))) for r in roots]


def is_inside(path: str, roots: list[str]) -> bool:
    """Whether the absolute ``path`` is one of ``roots`` or below one."""
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


class Scope:
    """Where a job may reach: the real data directories, minus other datasets' directories
    (``<data dir>/<uuid>`` of a uuid that is not ``own``); ``own=None``: all of the data directories."""

    def __init__(self, roots: Iterable[str | os.PathLike[str]], own: str | None = None) -> None:
        self.roots = real_roots(roots)
        self.own = own

    def other_dataset(self, path: str) -> str | None:
        """The uuid of the other dataset whose directory holds ``path``, if any."""
        if self.own is None:
            return None
        for root in self.roots:
            prefix = root.rstrip(os.sep) + os.sep
            if path.startswith(prefix):
                first = path[len(prefix):].split(os.sep, 1)[0]
                if first != self.own and is_valid_uuid(first):
                    return first
        return None

    def contains(self, path: str) -> bool:
        """Whether the absolute real ``path`` may be passed through (a data directory itself too)."""
        return is_inside(path, self.roots) and self.other_dataset(path) is None

    def holds(self, path: str) -> bool:
        """Whether ``path`` may be where a link or a path ends: for a dataset's job not a data
        directory itself, which holds every other dataset's directory."""
        return self.contains(path) and (self.own is None or path not in self.roots)

    def outside(self, path: str) -> str:
        """How to say that ``path`` is not reachable."""
        other = self.other_dataset(path)
        if other:
            return f"reaches the directory of another dataset ({other})"
        if self.own is not None and path in self.roots:
            return "reaches a whole data directory, every other dataset's directory with it"
        return "leads outside the data directories"


def scope_of(roots: Iterable[str | os.PathLike[str]] | Scope, own: str | None = None) -> Scope:
    """``roots`` as a :class:`Scope` of the dataset ``own`` (a Scope is taken as it is)."""
    return roots if isinstance(roots, Scope) else Scope(roots, own)


class FinalTree:
    """The destination as it will be once the staging tree is merged into it.

    Staging entries win over the destination's; a staged directory replaces a destination link
    or file of the same name (what ``move_into_place`` does); the staging directory itself is
    gone. Paths outside the destination are the real file system.
    """

    def __init__(self, staging: Path, destination: Path) -> None:
        self.staging = os.path.realpath(staging)
        self.destination = os.path.realpath(destination)

    def _entry(self, path: str) -> os.stat_result | None:
        try:
            return os.lstat(path)
        except OSError:
            return None

    def lookup(self, path: str) -> os.stat_result | None:
        """lstat of ``path`` in the final tree (None: it will not exist)."""
        if not path.startswith(self.destination + os.sep):
            return self._entry(path)
        rel = os.path.relpath(path, self.destination)
        if rel.split(os.sep)[0] == os.path.basename(self.staging):
            return None
        staged = self._entry(os.path.join(self.staging, rel))
        if staged is not None:
            return staged
        parts = rel.split(os.sep)
        for depth in range(1, len(parts)):
            prefix = os.sep.join(parts[:depth])
            staged_dir = self._entry(os.path.join(self.staging, prefix))
            here = self._entry(os.path.join(self.destination, prefix))
            if staged_dir is not None and (here is None or not stat.S_ISDIR(here.st_mode)):
                return None  # the staged directory replaces what is there, and all below it
        return self._entry(path)

    def readlink(self, path: str) -> str:
        rel = os.path.relpath(path, self.destination) if path.startswith(self.destination + os.sep) else None
        staged = os.path.join(self.staging, rel) if rel is not None else None
        return os.readlink(staged if staged is not None and os.path.lexists(staged) else path)


def resolve_steps(tree: FinalTree, start: str, target: str, scope: Scope, name: str) -> str:
    """Resolve the link target ``target`` from directory ``start`` in ``tree``; every position
    reached must be inside ``scope``. Missing components count as directories that may appear
    later (a link through them must not escape once they do). Returns the final position."""
    if target.startswith("/"):
        raise EscapingLink(f"link {name} -> {target} has an absolute target")
    pending = list(PurePosixPath(target).parts)
    current, hops, entered = start, 0, True
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        current = os.path.dirname(current) if part == ".." else os.path.join(current, part)
        inside = scope.contains(current)
        entered = entered or inside  # an absolute link met on the way starts from "/"
        if entered and not inside:
            raise EscapingLink(f"link {name} -> {target} {scope.outside(current)} (via {current})")
        if part == "..":
            continue
        info = tree.lookup(current)
        if info is not None and stat.S_ISLNK(info.st_mode):
            hops += 1
            if hops > MAX_LINK_HOPS:
                raise EscapingLink(f"link {name} -> {target}: too many levels of links")
            inner = tree.readlink(current)
            absolute = inner.startswith("/")
            current, entered = ("/", False) if absolute else (os.path.dirname(current), entered)
            pending = list(PurePosixPath(inner).parts)[1 if absolute else 0:] + pending
    if not scope.holds(current):
        raise EscapingLink(f"link {name} -> {target} {scope.outside(current)} (to {current})")
    return current


def _refuse_name(rel: str) -> None:
    if any(part.startswith("-") for part in PurePosixPath(rel).parts):
        raise InvalidInput(f"{rel!r}: names starting with '-' are refused")


def strip_special_bits(path: Path, info: os.stat_result, *, keep_setgid: bool = False) -> None:
    """Clear setuid, setgid and sticky bits (a directory may keep a setgid it inherited)."""
    bits = SPECIAL_BITS & ~stat.S_ISGID if keep_setgid else SPECIAL_BITS
    if info.st_mode & bits:
        os.chmod(path, stat.S_IMODE(info.st_mode) & ~bits)


def strip_tree_bits(root: Path) -> None:
    """Clear setuid, setgid and sticky bits under ``root`` (a handler's output before it is
    promoted); directories keep a setgid bit they inherit from a setgid parent (group sharing)."""
    inherit = bool(os.stat(root.parent).st_mode & stat.S_ISGID)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = os.lstat(path)
            if not stat.S_ISLNK(info.st_mode):
                strip_special_bits(path, info, keep_setgid=inherit and stat.S_ISDIR(info.st_mode))
    if root.exists() and not root.is_symlink():
        strip_special_bits(root, os.lstat(root), keep_setgid=inherit and root.is_dir())


def check_extracted_tree(
    staging: Path, destination: Path, roots: Iterable[str | os.PathLike[str]] | Scope, *,
    dataset_uuid: str | None = None,
) -> None:
    """Refuse the extraction (InvalidInput) unless the staged tree, merged into ``destination``,
    keeps every link inside ``roots`` (and out of other datasets' directories, given the job's
    ``dataset_uuid``); strip special permission bits from what stays."""
    real = scope_of(roots, dataset_uuid)
    tree = FinalTree(staging, destination)
    base = os.path.realpath(staging)
    inherit_gid = bool(os.stat(base).st_mode & stat.S_ISGID)
    names_by_inode: dict[tuple[int, int], list[str]] = {}
    links: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, base)
            _refuse_name(rel)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                links.append((path, rel))
            elif stat.S_ISDIR(info.st_mode):
                strip_special_bits(Path(path), info, keep_setgid=inherit_gid)
            elif stat.S_ISREG(info.st_mode):
                strip_special_bits(Path(path), info)
                if info.st_nlink > 1:
                    names_by_inode.setdefault((info.st_dev, info.st_ino), []).append(rel)
            else:
                raise InvalidInput(f"{rel} is a device file, FIFO or socket")
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    for names in names_by_inode.values():
        if os.lstat(os.path.join(base, names[0])).st_nlink > len(names):
            raise EscapingLink(f"hard link {names[0]} shares its file with a name outside the archive")
    for path, rel in links:
        final_parent = os.path.normpath(os.path.join(tree.destination, os.path.dirname(rel)))
        resolve_steps(tree, final_parent, os.readlink(path), real, rel)


def _links_under(root: str) -> Iterator[str]:
    """Every symlink below ``root``, without following any (scandir: no extra stat per file)."""
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_symlink():
                    yield entry.path
                elif entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)


def check_tree(
    root: Path, roots: Iterable[str | os.PathLike[str]] | Scope, *, what: str = "dataset",
    dataset_uuid: str | None = None,
) -> None:
    """Refuse (InvalidInput naming the path) any link under ``root`` (or ``root`` itself) that
    resolves outside ``roots`` (or, given ``dataset_uuid``, into another dataset's directory);
    links are never followed while walking."""
    real = scope_of(roots, dataset_uuid)
    root = Path(root)
    if root.is_symlink():
        candidates: Iterable[str] = [str(root)]
    else:
        candidates = _links_under(str(root)) if root.is_dir() else []
    for link in candidates:
        resolved = os.path.realpath(link)
        if not real.holds(resolved):
            target = os.readlink(link)
            raise EscapingLink(f"{what} {link} is a link to {target} that {real.outside(resolved)}: refused, not read")


def open_nofollow(path: Path) -> IO[bytes]:
    """Open a regular file for reading; a link (swapped in after a check) is refused."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: the last component is a link
            raise EscapingLink(f"{path} became a link: refused, not read") from None
        raise
    return os.fdopen(fd, "rb")
