"""The systemd units of the service and the API, shipped in the package and filled from settings.

``sc service unit [service|api]`` prints one, so a ``pip install`` has them. The write paths of
the hardened unit come from the settings (the data directories, the job log directory, a SQLite
store's directory), and ``PrivateTmp`` is on only when job logs are not under ``/tmp``: the
service, ``sc job logs`` and the API must all see the same log files.
"""

from __future__ import annotations

import os
import shutil
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from sccli.errors import InvalidInput

if TYPE_CHECKING:
    from sccli.settings import Settings
    from sccli.store.urls import StoreTarget

UNITS = {"service": "sc-service.service", "api": "sc-api.service"}


def unit_text(which: str) -> str:
    """The unit template ``which`` (``service`` or ``api``) as shipped."""
    if which not in UNITS:
        raise InvalidInput(f"unit must be one of {', '.join(UNITS)}, got {which[:40]!r}")
    return resources.files("sccli.service").joinpath("units", UNITS[which]).read_text()


def sc_executable() -> str:
    """The ``sc`` of this installation: beside the interpreter, else on ``PATH``."""
    beside = Path(sys.executable).parent / "sc"
    if beside.exists():
        return str(beside)
    return shutil.which("sc") or "/usr/local/bin/sc"


def write_paths(settings: Settings, target: StoreTarget | None, which: str) -> list[str]:
    """Directories the unit may write (``-`` prefixed: a missing one does not fail the start)."""
    paths: list[str] = []
    if which == "service":
        paths += [settings.in_data_dir, settings.out_data_dir, settings.sync_data_dir, settings.log_dir]
        if settings.backup_dir:
            paths.append(settings.backup_dir)
    sqlite = sqlite_file(target)
    if sqlite is not None:
        paths.append(str(sqlite.parent))
    unique = list(dict.fromkeys(os.path.normpath(p) for p in paths))
    return [f"-{p}" for p in unique]


def sqlite_file(target: StoreTarget | None) -> Path | None:
    """The SQLite file a target names, if it is one."""
    from sccli.store.urls import sqlite_path_in_url

    path = sqlite_path_in_url(target.url) if target is not None else None
    return Path(path).expanduser().absolute() if path else None


def environment_lines(target: StoreTarget | None) -> str:
    """``Environment=`` lines for a store named explicitly and without a password (else the
    environment file carries it: a unit file is world-readable)."""
    from sccli.store.urls import redact

    if target is None or target.is_default or redact(target.url) != target.url:
        return ""
    lines = f"Environment=SC_DB_URL={target.url}\n"
    if target.name_source != "default":
        lines += f"Environment=DB_NAME={target.db_name}\n"
    return lines


def render_unit(
    which: str, settings: Settings, *, settings_path: str, target: StoreTarget | None = None, user: str = "visus",
    executable: str | None = None,
) -> str:
    """The unit ``which`` filled in for this host's settings and store."""
    log_dir = os.path.normpath(settings.log_dir)
    in_tmp = any(log_dir == d or log_dir.startswith(d + "/") for d in ("/tmp", "/var/tmp"))
    paths = write_paths(settings, target, which)
    values = {
        "user": user, "group": user, "exec": executable or sc_executable(), "settings": settings_path,
        "write_paths": " ".join(paths), "private_tmp": "no" if in_tmp else "yes",
        "environment": environment_lines(target),
    }
    words = [values["user"], values["exec"], values["settings"], *paths, *values["environment"].splitlines()]
    for word in words:
        if not word or any(c.isspace() or not c.isprintable() for c in word):
            raise InvalidInput(f"{word[:60]!r} cannot go into a unit file (empty, spaces or control characters)")
    return unit_text(which).format(**values)
