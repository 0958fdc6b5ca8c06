"""What each job type accepts: parameter declarations, checked at creation and at run time.

A light module (standard library only, no handler module), so ``JobQueue.create_job`` and
``sc job types`` can use it without importing numpy or the handlers. Each built-in job type
declares its parameters in :data:`PARAMETERS`; a plugin may declare its own as a module-level
``PARAMETERS`` tuple of :class:`Param` in its handler module (see
:func:`sccli.handlers.plugin_parameters`).

Some parameters are *carried*: the type accepts them without using them, because the migration
gives them to every job it creates, or because a chained job inherits them
(``sccli.lifecycle.CHAINED_PARAMETERS``), e.g. a ``google_sync`` job carries the
``sensor_type`` its chained conversion needs.
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sccli.errors import InvalidInput

if TYPE_CHECKING:
    from sccli.settings import Settings

TYPES: dict[str, type | tuple[type, ...]] = {
    "str": str, "int": int, "float": (int, float), "bool": bool, "list": list, "dict": dict,
}
TYPE_WORDS = {
    "str": "a string", "int": "an integer", "float": "a number", "bool": "true or false", "list": "a list",
    "dict": "an object",
}
#: Declared formats of string parameters, checked on top of the type (a value reaches a tool's
#: configuration or command line, so it must be exactly what it claims to be).
FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    "email": (re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"), "an email address"),
}
#: Line and paragraph separators are not category Cc but end a line for some parsers.
_SEPARATORS = frozenset("\u2028\u2029")


@dataclass(frozen=True)
class Param:
    """One parameter of a job type.

    ``type`` is one of str, int, float, bool, list, dict; a ``list`` holds strings and a single
    string counts as a list of one. No string anywhere in a value (list items, object keys and
    values at any depth) may hold a control character. ``format`` names an entry of
    :data:`FORMATS` the string must match whole. ``path`` means the value (each item of a list) is a path
    that must lie inside the data directories (resolved, symlinks followed). ``carried``
    parameters are accepted but only passed on to chained jobs.
    """

    name: str
    type: str
    description: str
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    path: bool = False
    carried: bool = False
    format: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The declaration as plain data (``sc job types --json``)."""
        data = {k: v for k, v in self.__dict__.items() if v is not None}
        if self.choices is not None:
            data["choices"] = list(self.choices)
        return data


def _p(name: str, kind: str, description: str, **extra: Any) -> Param:
    return Param(name, kind, description, **extra)


TIMEOUT = _p(
    "timeout_seconds", "float", "stop the attempt after this many seconds (at most timeout_minutes)", minimum=0.001
)
_CARRIED = {
    "input_path": _p("input_path", "str", "the dataset's input (carried to the chained job)", path=True, carried=True),
    "output_path": _p(
        "output_path", "str", "the dataset's converted output (carried to the chained job)", path=True, carried=True
    ),
    "user_email": _p("user_email", "str", "the dataset's owner (carried to the chained job)", carried=True),
    "data_url": _p("data_url", "str", "the dataset's Google Drive link (carried)", carried=True),
    "sensor_type": _p("sensor_type", "str", "the dataset's sensor (carried to the chained conversion)", carried=True),
    "conversion_params": _p("conversion_params", "dict", "options of the chained conversion (carried)", carried=True),
    "files": _p("files", "list", "the dataset's uploaded files (carried)", carried=True),
}


def _with_carried(*params: Param) -> tuple[Param, ...]:
    """``params`` plus the migration's and the chain's parameters this type does not use itself."""
    own = {p.name for p in params}
    return (*params, *(p for name, p in _CARRIED.items() if name not in own), TIMEOUT)


PARAMETERS: dict[str, tuple[Param, ...]] = {
    "google_sync": _with_carried(
        _p("data_url", "str", "Google Drive folder link or folder id"),
        _p("google_drive_link", "str", "the same as data_url (the portal's field name)"),
        _p("user_email", "str", "the user to impersonate (with impersonate)", format="email"),
        _p("impersonate", "bool", "impersonate user_email (domain-wide delegation)", default=False),
        _p("service_account_file", "str", "service-account JSON, a file name inside auth_dir (default: the only one)"),
        _p("destination", "str", "where the folder lands (default <sync_data_dir>/<uuid>)", path=True),
        _p("rclone_source", "str", "a local folder replacing the Drive remote (tests, offline)", path=True),
    ),
    "dataset_conversion": _with_carried(
        _p("input_path", "str", "the dataset's input files (default <in_data_dir>/<uuid>)", path=True),
        _p("output_path", "str", "the IDX output directory (default <out_data_dir>/<uuid>)", path=True),
        _p("sensor_type", "str", "TIFF, TIFF RGB, HDF5, 4D_Probe, NETCDF, NUMPY or IDX (default: detected)"),
        _p(
            "conversion_params", "dict",
            "dataset, Xs_dataset, Ys_dataset, variable, field, compression (zip|raw), verify (sample|full)",
        ),
    ),
    "file_upload": _with_carried(
        _p("files", "list", "files or directories to upload", path=True),
        _p("source_path", "list", "the same as files", path=True),
        _p("destination", "str", "the dataset's storage directory (default <in_data_dir>/<uuid>)", path=True),
        _p("remote", "str", "an rclone remote name:path from <auth_dir>/rclone.conf instead of a directory"),
    ),
    "file_extraction": _with_carried(
        _p("archives", "list", "archives to extract (default: those in input_path)", path=True),
        _p("archive_path", "list", "the same as archives", path=True),
        _p(
            "input_path", "str",
            "an archive, or the directory whose archives are extracted (default <in_data_dir>/<uuid>)", path=True,
        ),
        _p("destination", "str", "where the files land (default <in_data_dir>/<uuid>)", path=True),
        _p("max_total_bytes", "int", "refuse archives expanding past this many bytes", default=50 * 1024**3, minimum=1),
        _p("max_entries", "int", "refuse archives with more entries", default=100_000, minimum=1),
        _p(
            "max_ratio", "int", "refuse archives expanding more than this many times their size", default=200, minimum=1
        ),
        _p("reserve_bytes", "int", "bytes of disk kept free", default=64 * 1024 * 1024, minimum=0),
        _p("remove_archives", "bool", "delete the archives after a successful extraction", default=False),
    ),
    "data_compression": _with_carried(
        _p("input_path", "str", "the directory to compress (default <in_data_dir>/<uuid>)", path=True),
        _p(
            "output_path", "str", "the archive, or a directory to put it in (default <out_data_dir>/<uuid>.tar.zst)",
            path=True,
        ),
        _p("format", "str", "archive format", default="tar.zst", choices=("tar.zst", "zst", "lz4", "tar.lz4")),
        _p("level", "int", "compression level (zstd 1-19, default 3; lz4 0-16, default 0)", minimum=0, maximum=19),
        _p("threads", "int", "zstd worker threads (default: all cores)", minimum=0, maximum=64),
        _p("file_checksums", "bool", "sha256 of every file, also in <archive>.manifest.json", default=True),
    ),
    "rsync_transfer": (
        _p("source", "str", "a path inside the data directories, [user@]host:path or rsync://host/path", required=True),
        _p("destination", "str", "the same forms as source; one side must be local", required=True),
        _p("options", "list", "rsync options from the allow-list", default=["-a"]),
        TIMEOUT,
    ),
    "backup_creation": (
        _p("keep", "int", "snapshots kept per dataset (default settings.backup_keep)", minimum=1),
        _p("level", "int", "zstd level", default=3, minimum=1, maximum=19),
        TIMEOUT,
    ),
    "data_validation": (
        _p("manifest_path", "str", "the manifest (default <out_data_dir>/<uuid>.manifest.json)", path=True),
        _p("rebuild", "bool", "build the manifest again instead of comparing", default=False),
        _p("idx_checksum", "bool", "read each IDX through and compare its sha256", default=True),
        TIMEOUT,
    ),
}


def _type_error(param: Param, value: Any) -> InvalidInput:
    return InvalidInput(f"parameter {param.name!r} must be {TYPE_WORDS[param.type]}, got {value!r}")


def _instance(value: Any, expected: Any) -> bool:
    return isinstance(value, expected)  # a function, so the checks below keep value's own type


def control_character(value: Any, depth: int = 0) -> str | None:
    """The first control character (Unicode Cc, or a line/paragraph separator) in any string of
    ``value`` (object keys included, at any depth), else None."""
    if isinstance(value, str):
        return next((ch for ch in value if ch in _SEPARATORS or unicodedata.category(ch) == "Cc"), None)
    if depth > 100:  # deeper than any store accepts; refused elsewhere
        return None
    items = [*value.keys(), *value.values()] if isinstance(value, dict) else value if isinstance(value, list) else []
    return next((found for item in items if (found := control_character(item, depth + 1)) is not None), None)


def _check_text(param: Param, value: Any) -> None:
    """Refuse a control character anywhere in the value and a string not of its declared format."""
    found = control_character(value)
    if found is not None:
        raise InvalidInput(f"parameter {param.name!r} contains a control character ({found!r}): got {value!r}")
    if param.format is not None and isinstance(value, str):
        pattern, words = FORMATS[param.format]
        if not pattern.fullmatch(value):
            raise InvalidInput(f"parameter {param.name!r} must be {words}, got {value!r}")


def _check_value(param: Param, given: Any) -> None:
    value: Any = [given] if param.type == "list" and isinstance(given, str) else given
    expected = TYPES[param.type]
    if (isinstance(value, bool) and param.type != "bool") or not _instance(value, expected):
        raise _type_error(param, value)
    if param.type == "float" and not math.isfinite(value):
        raise _type_error(param, value)
    if param.type == "list" and not all(isinstance(item, str) and item for item in value):
        raise InvalidInput(f"parameter {param.name!r} must be a list of non-empty strings, got {value!r}")
    if param.type == "str" and not value.strip():
        raise InvalidInput(f"parameter {param.name!r} must be a non-empty string")
    _check_text(param, value)
    if param.choices is not None and value not in param.choices:
        raise InvalidInput(
            f"parameter {param.name!r} must be one of {', '.join(map(str, param.choices))}; got {value!r}"
        )
    low, high = param.minimum, param.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (
            f"{low:g}..{high:g}"
            if low is not None and high is not None
            else f"at least {low:g}"
            if low is not None
            else f"at most {high:g}"
        )
        raise InvalidInput(f"parameter {param.name!r} must be {bounds}, got {value!r}")


def _check_path(param: Param, value: Any, settings: Settings, dataset_uuid: str | None = None) -> None:
    from sccli.handlers.containment import Scope

    scope = Scope(settings.data_dirs, dataset_uuid)
    for item in [value] if isinstance(value, str) else value:
        real = os.path.realpath(os.path.expanduser(item))
        other = scope.other_dataset(real)
        if other:
            raise InvalidInput(f"parameter {param.name!r}: path {item} is inside the directory of another dataset "
                               f"({other})")
        if not scope.contains(real):
            raise InvalidInput(f"parameter {param.name!r}: path {item} is outside the configured data directories")
        if not scope.holds(real):
            raise InvalidInput(f"parameter {param.name!r}: path {item} {scope.outside(real)}")


def _replaced(job_type: str, settings: Settings | None) -> bool:
    """Whether ``settings.handlers`` serves ``job_type`` with a plugin instead of the built-in."""
    spec = (getattr(settings, "handlers", None) or {}).get(job_type)
    return isinstance(spec, str) and not spec.startswith("sccli.handlers.")


def spec_for(job_type: str, plugin_spec: tuple[Param, ...] | None = None) -> tuple[Param, ...] | None:
    """The declaration of ``job_type``: the plugin's when given, else the built-in one, else None."""
    return plugin_spec if plugin_spec is not None else PARAMETERS.get(job_type)


def check_parameters(
    job_type: str, params: dict[str, Any], settings: Settings | None = None, *,
    plugin_spec: tuple[Param, ...] | None = None, dataset_uuid: str | None = None,
) -> None:
    """Refuse (InvalidInput naming the parameter) an unknown name, a missing required one, a
    wrong type, a value outside its choices or range, or, with ``settings``, a path outside the
    data directories (or, given ``dataset_uuid``, in another dataset's directory). A job type
    without a declaration (a plugin without ``PARAMETERS``, also
    one that replaces a built-in type in ``settings.handlers``) is not checked."""
    spec = (
        plugin_spec if plugin_spec is not None else None if _replaced(job_type, settings) else PARAMETERS.get(job_type)
    )
    if spec is None:
        return
    if not isinstance(params, dict):
        raise InvalidInput(f"parameters must be an object, got {type(params).__name__}")
    by_name = {p.name: p for p in spec}
    unknown = sorted(str(k) for k in params if k not in by_name)
    if unknown:
        raise InvalidInput(f"unknown parameter {unknown[0]!r} for {job_type} (accepted: {', '.join(sorted(by_name))})")
    for param in spec:
        value = params.get(param.name)
        if value is None:
            if param.required:
                raise InvalidInput(f"parameter {param.name!r} is required for {job_type}")
            continue
        _check_value(param, value)
        if param.path and settings is not None:
            _check_path(param, value, settings, dataset_uuid)


def describe(job_type: str, plugin_spec: tuple[Param, ...] | None = None) -> list[dict[str, Any]]:
    """The parameters of ``job_type`` as plain data, in declaration order (empty when undeclared)."""
    return [p.as_dict() for p in spec_for(job_type, plugin_spec) or ()]
