"""Handler registry: built-in job types, settings plugins and the ``sccli.handlers`` entry points."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

from sccli.errors import InvalidInput
from sccli.handlers.base import Handler, HandlerError, JobContext
from sccli.settings import Settings

__all__ = [
    "Handler", "HandlerError", "JobContext", "resolve_handler", "resolve_cleanup", "plugin_parameters",
    "describe_types",
]

ENTRY_POINT_GROUP = "sccli.handlers"

#: Built-in job type → module under sccli.handlers defining ``run`` (and maybe ``cleanup``).
BUILTIN_MODULES = {
    "google_sync": "google_sync",
    "dataset_conversion": "conversion",
    "file_upload": "upload",
    "file_extraction": "extraction",
    "data_compression": "compression",
    "rsync_transfer": "rsync",
    "backup_creation": "backup",
    "data_validation": "validation",
}


def _load(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInput(f"cannot import handler module {module_name!r}: {exc}") from None
    if not attr:
        return module
    try:
        return getattr(module, attr)
    except AttributeError:
        raise InvalidInput(f"handler {spec!r}: module has no {attr!r}") from None


def _entry_points() -> Sequence[Any]:
    """The ``sccli.handlers`` entry points. ``importlib.metadata`` costs about 30 ms to import and
    scan, so it runs only when some distribution's ``entry_points.txt`` names the group."""
    if not _group_declared(ENTRY_POINT_GROUP):
        return ()
    from importlib.metadata import entry_points

    return tuple(entry_points(group=ENTRY_POINT_GROUP))


def _group_declared(group: str) -> bool:
    """Whether a distribution on ``sys.path`` may declare ``group``: a text search of the
    ``entry_points.txt`` files where ``importlib.metadata`` looks. True (look properly) for
    anything it cannot read cheaply: a zip on the path, a finder of its own."""
    import os
    import sys
    from importlib.machinery import PathFinder

    if any(hasattr(f, "find_distributions") and f is not PathFinder for f in sys.meta_path):
        return True
    header = f"[{group}]"
    for entry in sys.path:
        root = entry or "."
        if not os.path.isdir(root):
            if os.path.exists(root):
                return True  # a zip or egg file: importlib.metadata can read inside it
            continue
        try:
            names = os.listdir(root)
        except OSError:
            continue
        for name in names:
            if name.lower().endswith((".dist-info", ".egg-info")):
                try:
                    with open(os.path.join(root, name, "entry_points.txt"), encoding="utf-8", errors="replace") as fh:
                        if header in fh.read():
                            return True
                except OSError:  # none, or an egg-info file
                    continue
    return False


def _spec_for(job_type: str, settings: Settings) -> str:
    if job_type in settings.handlers:
        return settings.handlers[job_type]
    if job_type in BUILTIN_MODULES:
        return f"sccli.handlers.{BUILTIN_MODULES[job_type]}:run"
    for ep in _entry_points():
        if ep.name == job_type:
            return ep.value
    raise InvalidInput(f"no handler for job type {job_type!r}")


def resolve_handler(job_type: str, settings: Settings) -> Handler:
    """The handler function for a job type (settings plugins override built-ins)."""
    handler = _load(_spec_for(job_type, settings))
    if not callable(handler):
        raise InvalidInput(f"handler for {job_type!r} is not callable")
    return handler


def resolve_cleanup(job_type: str, settings: Settings) -> Callable[[dict[str, Any], Settings], None] | None:
    """The handler module's ``cleanup(job, settings)``, if it defines one."""
    module_name = _spec_for(job_type, settings).partition(":")[0]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    cleanup = getattr(module, "cleanup", None)
    return cleanup if callable(cleanup) else None


def plugin_parameters(job_type: str, settings: Settings) -> tuple[Any, ...] | None:
    """The ``PARAMETERS`` a plugin's handler module declares (a tuple of
    :class:`sccli.handlers.specs.Param`), or None: built-in types (their declarations live in
    :mod:`sccli.handlers.specs`) and plugins that declare nothing. Imports the plugin module."""
    if job_type in BUILTIN_MODULES and job_type not in settings.handlers:
        return None
    module_name = _spec_for(job_type, settings).partition(":")[0]
    if module_name.startswith("sccli.handlers."):
        return None
    declared = getattr(_load(module_name), "PARAMETERS", None)
    if declared is None:
        return None
    from sccli.handlers.specs import Param

    if not isinstance(declared, tuple) or not all(isinstance(p, Param) for p in declared):
        raise InvalidInput(f"{module_name}.PARAMETERS must be a tuple of sccli.handlers.specs.Param")
    return declared


#: What a plugin's handler module may declare in ``DEFAULTS`` (its job type's defaults).
DECLARABLE = ("description", "priority", "timeout_minutes", "max_attempts", "requires_internet")


def plugin_defaults(job_type: str, settings: Settings) -> dict[str, Any]:
    """The ``DEFAULTS`` dict a plugin's handler module declares next to its handler (keys of
    :data:`DECLARABLE`), or ``{}``: built-in types and plugins that declare none."""
    if job_type in BUILTIN_MODULES and job_type not in settings.handlers:
        return {}
    module_name = _spec_for(job_type, settings).partition(":")[0]
    if module_name.startswith("sccli.handlers."):
        return {}
    declared = getattr(_load(module_name), "DEFAULTS", None) or {}
    if not isinstance(declared, dict) or set(declared) - set(DECLARABLE):
        raise InvalidInput(f"{module_name}.DEFAULTS must be a dict with keys among {', '.join(DECLARABLE)}")
    return dict(declared)


def plugin_types(settings: Settings) -> list[str]:
    """Job types added by settings or entry points (not built in)."""
    names = set(settings.handlers) | {ep.name for ep in _entry_points()}
    return sorted(n for n in names if n not in BUILTIN_MODULES)


def describe_types(settings: Settings, only: str | None = None) -> list[dict[str, Any]]:
    """Every job type (built-ins, then plugins) with its defaults and declared parameters
    (``sc job types``); ``only`` names one type (InvalidInput when no handler serves it)."""
    from sccli.domain import job_type_config
    from sccli.handlers.specs import describe

    names = [*BUILTIN_MODULES, *plugin_types(settings)]
    if only is not None:
        _spec_for(only, settings)
        names = [only]
    described = []
    for name in names:
        try:
            spec = plugin_parameters(name, settings)
        except InvalidInput:
            spec = None
        config = job_type_config(name).as_dict()
        try:
            config.update(plugin_defaults(name, settings))  # what the plugin declares next to its handler
        except InvalidInput:
            pass
        described.append({"job_type": name, "builtin": name in BUILTIN_MODULES, **config,
                          "declared": spec is not None or name in BUILTIN_MODULES, "parameters": describe(name, spec)})
    return described
