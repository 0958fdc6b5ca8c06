"""What the service checks at start and derives from its settings: served types, timeouts, intervals."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from sccli import domain
from sccli.domain import job_timeout_seconds as job_timeout_seconds  # re-exported for the service's callers
from sccli.errors import InvalidInput
from sccli.settings import Settings, validate_settings


@dataclass
class ServiceOptions:
    """Command-line options of ``sc service run``."""

    pid_file: str | None = None
    until_idle: bool = False
    worker_id: str | None = None
    verbose: bool = False
    log_json: bool = False
    metrics_port: int | None = None


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def known_types(settings: Settings) -> list[str]:
    """Every job type this service has a handler for: built-ins, settings plugins, entry points."""
    from sccli.handlers import plugin_types

    return sorted({*domain.JOB_TYPE_CONFIGS, *plugin_types(settings)})


def validate_service_settings(settings: Settings) -> list[str]:
    """Refuse settings the service cannot run with (one line naming the key); return the served types.

    Types and ranges are the settings model's (:func:`sccli.settings.validate_settings`, also for
    settings built in code); this adds what needs the machine: directories, plugins, the log dir.
    """
    validate_settings(settings)
    settings.check_data_dirs()
    known = known_types(settings)
    for name in settings.types or []:
        if name not in known:
            raise InvalidInput(f"settings: types names unknown job type {name!r} (known: {', '.join(known)})")
    from sccli.handlers import resolve_handler

    for name in settings.handlers:
        try:
            resolve_handler(name, settings)
        except InvalidInput as exc:
            raise InvalidInput(f"settings: handlers.{name}: {exc}") from None
    try:
        Path(settings.log_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"settings: log_dir {settings.log_dir} cannot be created: {exc.strerror}") from None
    if not os.access(settings.log_dir, os.W_OK):
        raise InvalidInput(f"settings: log_dir {settings.log_dir} is not writable")
    return served_types(settings, known)


def served_types(settings: Settings, known: list[str]) -> list[str]:
    """The types this instance claims: ``types`` (or all it knows), less internet types when offline."""
    types = list(settings.types) if settings.types is not None else known
    if settings.offline:
        types = [t for t in types if not domain.job_type_config(t).requires_internet]
    return types


def preload_modules(settings: Settings) -> list[str]:
    """Modules the template imports once so each forked child starts warm."""
    modules = ["sccli.service.child", "sccli.handlers"]
    modules += [spec.partition(":")[0] for spec in settings.handlers.values()]
    return list(dict.fromkeys(modules))
