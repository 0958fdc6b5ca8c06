"""Service settings (settings.json): the original keys plus sccli's, in one typed model.

:class:`Settings` is a msgspec ``Struct``: every field has its type and range in one place, and
:func:`settings_from_dict` checks nested values (lists, maps) too. An unknown key, a value of
the wrong type, out of its range, NaN or Infinity is refused with one line naming the dotted
key (``settings: converters.TIFF must be a list of strings, got 'x'``; InvalidInput, exit 2).
Building ``Settings(...)`` directly does not check: :func:`validate_settings` does.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct, field

from sccli.errors import InvalidInput, NotFound

DATA_DIR_KEYS = ("in_data_dir", "out_data_dir", "sync_data_dir", "auth_dir")
DEFAULT_DB_NAME = "scientistcloud"

#: Characters MongoDB refuses in a database name (and at most 63 bytes).
DB_NAME_PATTERN = r'^[^/\\. "$*<>:|?\x00]{1,63}$'
HANDLER_PATTERN = r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"
NO_NUL_PATTERN = r"^[^\x00]*$"
CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
#: How each pattern reads in an error message.
PATTERN_WORDS = {
    DB_NAME_PATTERN: 'a database name (1-63 characters, none of / \\ . space " $ * < > : | ?)',
    HANDLER_PATTERN: "a 'module:function' string",
    CLOCK_PATTERN: "a time of day HH:MM (00:00-23:59)",
}

HOUR, DAY = 3600.0, 86400.0
Text = Annotated[str, Meta(pattern=NO_NUL_PATTERN)]
PathText = Annotated[str, Meta(min_length=1, pattern=NO_NUL_PATTERN)]
DbName = Annotated[str, Meta(pattern=DB_NAME_PATTERN)]
HandlerSpec = Annotated[str, Meta(pattern=HANDLER_PATTERN)]
Slots = Annotated[int, Meta(ge=1, le=256)]
Interval = Annotated[float, Meta(ge=0.001, le=HOUR)]  # a loop's period: never 0 (a busy loop)
Grace = Annotated[float, Meta(ge=0, le=DAY)]
Delay = Annotated[float, Meta(ge=0, le=30 * DAY)]
Command = Annotated[list[Text], Meta(min_length=1)]
MemoryMb = Annotated[int, Meta(ge=1, le=1 << 30)]


Days = Annotated[int, Meta(ge=1, le=36_500)]


class Retention(Struct, kw_only=True, forbid_unknown_fields=True):
    """Settings ``retention``: once a day at ``at`` (HH:MM, in ``timezone``), one service deletes
    finished jobs older than these ages (cancelled ones as completed ones), with their events and
    log files, ``batch_size`` jobs per delete; then the events older than ``events_days`` of the
    jobs kept, and (``sweep_partials``) orphaned partial outputs (see docs/schedules.md)."""

    completed_days: Days = 30
    failed_days: Days = 60
    at: Annotated[str, Meta(pattern=CLOCK_PATTERN)] = "03:15"
    timezone: Annotated[str, Meta(max_length=64, pattern=NO_NUL_PATTERN)] = "UTC"
    batch_size: Annotated[int, Meta(ge=1, le=10_000)] = 1000
    events_days: Days | None = None  # None: events live as long as their job
    sweep_partials: bool = True


#: What a notification can be about (settings ``notify.events``).
NotifyEvent = Literal["job_failed", "health_critical", "unserved_type", "retention_failed", "schedule_failed"]
NOTIFY_EVENTS: tuple[NotifyEvent, ...] = typing.get_args(NotifyEvent)
URL_PATTERN = r"^https?://[^\s\x00]+$"
PATTERN_WORDS[URL_PATTERN] = "an http:// or https:// URL"


class NotifyTarget(Struct, kw_only=True, forbid_unknown_fields=True):
    """One webhook: a generic JSON body or a Slack-style ``{"text": ...}``, HMAC-signed with ``secret``."""

    name: Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[\w.-]+$")]
    url: Annotated[str, Meta(max_length=2048, pattern=URL_PATTERN)]
    format: Literal["json", "slack"] = "json"
    secret: Annotated[str, Meta(min_length=1, pattern=NO_NUL_PATTERN)] | None = None


class Notify(Struct, kw_only=True, forbid_unknown_fields=True):
    """Settings ``notify``: push notifications to webhooks, sent by exactly one service each (see
    docs/notifications.md)."""

    targets: Annotated[list[NotifyTarget], Meta(min_length=1)]
    #: At most one notification per key (a type and failure signature, a service gap...) per cooldown.
    cooldown_minutes: Annotated[float, Meta(ge=0, le=7 * DAY / 60)] = 30.0
    events: list[NotifyEvent] = field(default_factory=lambda: list(NOTIFY_EVENTS))
    #: How often a service looks for something to notify.
    period_seconds: Interval = 15.0
    timeout_seconds: Annotated[float, Meta(gt=0, le=60)] = 5.0
    #: Tries after the first on a 5xx, a 429, a timeout or a refused connection, with doubling waits.
    retries: Annotated[int, Meta(ge=0, le=10)] = 3
    retry_base_seconds: Annotated[float, Meta(ge=0, le=60)] = 1.0


class Settings(Struct, kw_only=True, forbid_unknown_fields=True):
    """Every setting with its type, range and default (the original's under /mnt/visus_datasets)."""

    db_name: DbName = DEFAULT_DB_NAME
    db_url: Text | None = None
    in_data_dir: PathText = "/mnt/visus_datasets/upload"
    out_data_dir: PathText = "/mnt/visus_datasets/converted"
    sync_data_dir: PathText = "/mnt/visus_datasets/sync"
    auth_dir: PathText = "/mnt/visus_datasets/auth"
    backup_dir: PathText | None = None
    workers: Slots = 2
    types: list[Text] | None = None
    poll_interval_seconds: Interval = 1.0
    heartbeat_seconds: Interval = 10.0
    progress_interval_seconds: Interval = 5.0  # a job's progress reaches its document at most this often
    stale_after_seconds: Annotated[float, Meta(ge=0.01, le=7 * DAY)] = 60.0
    drain_seconds: Grace = 30.0
    kill_grace_seconds: Annotated[float, Meta(ge=0, le=HOUR)] = 5.0
    log_dir: PathText = "/tmp"
    job_log_max_bytes: Annotated[int, Meta(ge=0, le=1 << 40)] = 10 * 1024 * 1024  # 0: no cap
    retry_base_seconds: Delay = 30.0
    retry_max_seconds: Delay = 3600.0
    #: Per job type backoff: ``{"google_sync": {"base_seconds": 300, "max_seconds": 7200}}`` (a missing key: the
    #: global one).
    retry_by_type: dict[Text, dict[Text, Delay]] = field(default_factory=dict)
    max_concurrent_by_type: dict[Text, Slots] = field(default_factory=dict)
    #: Past its timeout, a job of these types runs on while its progress moves (stopped after this
    #: many minutes without any).
    stall_minutes_by_type: dict[Text, Annotated[float, Meta(gt=0, le=7 * DAY / 60)]] = field(default_factory=dict)
    conversion_workers: Annotated[int, Meta(ge=0, le=256)] = 0  # threads a conversion zips with; 0: every core
    #: zstd worker threads of data_compression and backup (a job's ``threads`` overrides it); 0: every
    #: core; capped by the cores this process may run on.
    compression_threads: Annotated[int, Meta(ge=0, le=256)] = 0
    #: zlib level of IDX blocks: 1 takes half the CPU of OpenVisus' own (-1, i.e. 6) for a similar size on
    #: noisy scientific data; any level reads the same (zlib's inflate does not depend on it).
    conversion_zip_level: Annotated[int, Meta(ge=-1, le=9)] = 1
    #: Deflate of IDX blocks at levels 0-9: ``isal`` (ISA-L, about 10x zlib's speed, levels above 3 taken as 3;
    #: zlib when the package is missing) or ``zlib``. Level -1 is always zlib (OpenVisus' own bytes).
    conversion_zip_engine: Literal["isal", "zlib"] = "isal"
    offline: bool = False
    handlers: dict[Text, HandlerSpec] = field(default_factory=dict)
    converters: dict[Text, Command] = field(default_factory=dict)
    rsync_allowed_hosts: list[Text] = field(default_factory=list)
    backup_keep: Annotated[int, Meta(ge=1, le=10_000)] = 5
    health_failure_rate_critical: Annotated[float, Meta(ge=0, le=1)] = 0.20
    health_stale_warning: Annotated[int, Meta(ge=0, le=1_000_000)] = 5
    check_no_service_warning_seconds: Delay = 120.0
    check_no_service_critical_seconds: Delay = 900.0
    api_tokens: dict[Text, Text] = field(default_factory=dict)
    api_roles: dict[Text, Literal["viewer", "operator"]] = field(default_factory=dict)
    api_session_secret: Annotated[str, Meta(min_length=16)] | None = None
    metrics_public: bool = False
    metrics_port: Annotated[int, Meta(ge=1, le=65535)] | None = None  # a service's own /metrics (--metrics-port)
    metrics_textfile: PathText | None = None  # a service writes its metrics here for node_exporter
    migration_grace_seconds: Delay = 3600.0
    api_max_body_bytes: Annotated[int, Meta(ge=1024, le=1024**3)] = 1024 * 1024
    # Aging on by default: behind any stream of priority-1 work a p2 job waits about this long,
    # a p3 job twice (null: off).
    starvation_minutes: Annotated[float, Meta(gt=0, le=30 * DAY / 60)] | None = 15.0
    store_timeout_seconds: Annotated[float, Meta(ge=0.1, le=HOUR)] = 20.0
    #: Memory limit of a job's whole process tree, MB (None: no limit); per type overrides it.
    memory_limit_mb: MemoryMb | None = None
    memory_limit_mb_by_type: dict[Text, MemoryMb] = field(default_factory=dict)
    #: How often the service samples the tree's memory of a job under a limit.
    memory_check_seconds: Annotated[float, Meta(ge=0.01, le=60)] = 0.25
    #: ``auto``: each limited job in a cgroup v2 of its own when the service has a delegated memory controller.
    memory_cgroups: Literal["auto", "off"] = "auto"
    schedule_poll_seconds: Interval = 5.0
    schedule_intervals: bool = False  # tests: allow the "@every 2s" form of schedules
    retention: Retention | None = None
    notify: Notify | None = None

    def retry_policy(self, job_type: str) -> tuple[float, float]:
        """The (base, cap) of a job type's retry backoff."""
        own = self.retry_by_type.get(job_type, {})
        return own.get("base_seconds", self.retry_base_seconds), own.get("max_seconds", self.retry_max_seconds)

    @property
    def data_dirs(self) -> list[Path]:
        """The directories job paths must stay inside."""
        dirs = [self.in_data_dir, self.out_data_dir, self.sync_data_dir]
        if self.backup_dir:
            dirs.append(self.backup_dir)
        return [Path(d) for d in dirs]

    def memory_limit_mb_of(self, job_type: str) -> int | None:
        """The memory limit (MB) these settings give a job of ``job_type`` (its type's, else the
        default), or None; a fleet control overrides it (:func:`sccli.controls.memory_limit_mb`)."""
        return self.memory_limit_mb_by_type.get(job_type, self.memory_limit_mb)

    def to_dict(self) -> dict[str, Any]:
        """Every setting by name (what :func:`settings_from_dict` reads back)."""
        return msgspec.structs.asdict(self)

    def check_data_dirs(self) -> None:
        """Refuse to start when a configured data directory is missing."""
        for key in DATA_DIR_KEYS:
            path = Path(getattr(self, key))
            if not path.is_dir():
                raise InvalidInput(f"settings: {key} directory {path} does not exist")


def settings_from_dict(data: Any) -> Settings:
    """Check a mapping of settings (types, ranges, nested values, unknown keys) into Settings."""
    if not isinstance(data, dict):
        raise InvalidInput("settings must be a JSON object")
    try:
        settings = msgspec.convert(data, Settings)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"settings: {_explain(str(exc), data)}") from None
    _check_relations(settings)
    return settings


def validate_settings(settings: Settings) -> Settings:
    """Check a Settings built in code (``Settings(...)`` itself does not check)."""
    return settings_from_dict(settings.to_dict())


def _check_relations(settings: Settings) -> None:
    if settings.stale_after_seconds < 2 * settings.heartbeat_seconds:
        raise InvalidInput(
            f"settings: stale_after_seconds ({settings.stale_after_seconds:g}) must be at "
            "least twice heartbeat_seconds "
            f"({settings.heartbeat_seconds:g}): a live job would be taken for stale"
        )
    if settings.retry_max_seconds < settings.retry_base_seconds:
        raise InvalidInput(
            f"settings: retry_max_seconds ({settings.retry_max_seconds:g}) must not be less than retry_base_seconds "
            f"({settings.retry_base_seconds:g})"
        )
    for job_type, policy in settings.retry_by_type.items():
        unknown = sorted(set(policy) - {"base_seconds", "max_seconds"})
        if unknown:
            raise InvalidInput(
                f"settings: retry_by_type.{job_type} has unknown key {unknown[0]!r} (base_seconds, max_seconds)"
            )
        base, cap = settings.retry_policy(job_type)
        if cap < base:
            raise InvalidInput(
                f"settings: retry_by_type.{job_type}: max_seconds ({cap:g}) must not be less "
                f"than base_seconds ({base:g})"
            )
    _check_notify(settings)


def _check_notify(settings: Settings) -> None:
    names = [t.name for t in settings.notify.targets] if settings.notify else []
    if len(names) != len(set(names)):
        raise InvalidInput(f"settings: notify.targets names must be unique, got {names}")


def load_settings(path: str | Path | None) -> Settings:
    """Read settings.json (or defaults when ``path`` is None)."""
    if path is None:
        return Settings()
    file = Path(path)
    if not file.exists():
        raise NotFound(f"settings file {file} not found")
    from sccli.bounded import MAX_SETTINGS_BYTES, read_at_most

    try:
        raw = read_at_most(file, MAX_SETTINGS_BYTES, "settings file")
    except OSError as exc:
        raise InvalidInput(f"settings file {file} cannot be read: {exc.strerror or exc}") from None
    from sccli.limits import decode_json

    return settings_from_dict(decode_json(raw, f"settings file {file}"))


# -- error messages: msgspec's "Expected `int` >= 1 - at `$.m[...]`" → "m.NAME must be ..." ----
_UNKNOWN = re.compile(r"unknown field `(?P<key>.*)`")
_STEP = re.compile(r"\.(?P<attr>\w+)|\[(?P<index>\d+|\.\.\.)\]")


def _explain(message: str, data: dict[str, Any]) -> str:
    """One line naming the dotted key, what it must be and what it is."""
    import msgspec.inspect as mi

    unknown = _UNKNOWN.search(message)
    if unknown:
        return f"unknown key {unknown['key']!r}"
    _, _, where = message.partition(" - at `$")
    info: Any = mi.type_info(Settings)
    path, value = "", data
    for step in _STEP.finditer(where.rstrip("`")):
        info, path, value = _step(info, path, value, step)
    if not path:
        return message
    if isinstance(value, str) and "\x00" in value:
        return f"{path} must not contain a NUL character"
    return f"{path} must be {_describe(info)}, got {_shown(value)}"


def _step(info: Any, path: str, value: Any, step: re.Match[str]) -> tuple[Any, str, Any]:
    """Follow one step of msgspec's path through the type and the data (``[...]``: the bad map entry)."""
    import msgspec.inspect as mi

    info = _without_none(info, value)
    if step["attr"]:
        field_info = next(f for f in info.fields if f.encode_name == step["attr"])
        return field_info.type, f"{path}.{step['attr']}".lstrip("."), value.get(step["attr"])
    if step["index"] == "...":  # msgspec does not say which key of a map: find the entry that fails
        assert isinstance(info, mi.DictType) and isinstance(value, dict)
        for key, item in value.items():
            if not _fits(item, info.value_type):
                return info.value_type, f"{path}.{key}", item
        return info.value_type, f"{path}.?", None
    index = int(step["index"])
    return info.item_type, f"{path}[{index}]", value[index]


def _without_none(info: Any, value: Any) -> Any:
    import msgspec.inspect as mi

    if isinstance(info, mi.UnionType) and value is not None:
        return next(t for t in info.types if not isinstance(t, mi.NoneType))
    return info


def _fits(value: Any, info: Any) -> bool:
    return _fits_type(value, _annotation(info))


def _fits_type(value: Any, annotation: Any) -> bool:
    try:
        msgspec.convert(value, annotation)
    except msgspec.ValidationError:
        return False
    return True


def _annotation(info: Any) -> Any:
    """Back from msgspec.inspect's description to a type msgspec.convert accepts."""
    import msgspec.inspect as mi

    if isinstance(info, mi.ListType):
        return Annotated[list[_annotation(info.item_type)], Meta(min_length=info.min_length)]  # type: ignore[misc]
    if isinstance(info, mi.DictType):
        return dict[_annotation(info.key_type), _annotation(info.value_type)]  # type: ignore[misc]
    if isinstance(info, mi.LiteralType):
        return Literal[info.values]  # e.g. api_roles' "viewer" or "operator"
    scalars = {mi.IntType: int, mi.FloatType: float, mi.StrType: str, mi.BoolType: bool}
    meta = {
        k: getattr(info, k)
        for k in ("ge", "gt", "le", "lt", "pattern", "min_length")
        if getattr(info, k, None) is not None
    }
    base = scalars[type(info)]  # type: ignore[index]
    return Annotated[base, Meta(**meta)] if meta else base


def _describe(info: Any, plural: bool = False) -> str:
    """What a value of this type must be, in words."""
    import msgspec.inspect as mi

    if isinstance(info, mi.UnionType):
        return " or ".join(_describe(t, plural) for t in info.types)
    if isinstance(info, mi.NoneType):
        return "null"
    if isinstance(info, mi.LiteralType):
        return "one of " + ", ".join(repr(v) for v in info.values)
    if isinstance(info, mi.ListType):
        text = f"list{'s' if plural else ''} of {_describe(info.item_type, plural=True)}"
        return text if plural else f"a {text}" + (" (not empty)" if info.min_length else "")
    if isinstance(info, mi.DictType):
        text = f"object{'s' if plural else ''} of {_describe(info.value_type, plural=True)}"
        return text if plural else f"an {text}"
    words = {mi.IntType: ("a whole number", "whole numbers"), mi.FloatType: ("a number", "numbers"),
             mi.StrType: ("a string", "strings"), mi.BoolType: ("true or false", "true or false")}
    noun = words.get(type(info), (str(info), str(info)))[plural]  # type: ignore[call-overload]
    if isinstance(info, mi.StrType) and info.min_length:
        noun = "non-empty strings" if plural else "a non-empty string"
    pattern = getattr(info, "pattern", None)
    if pattern in PATTERN_WORDS:
        return f"{noun} ({PATTERN_WORDS[pattern]})" if plural else PATTERN_WORDS[pattern]
    return noun + _range(info)


def _range(info: Any) -> str:
    low = getattr(info, "ge", None)
    high = getattr(info, "le", None)
    above = getattr(info, "gt", None)
    if low is not None and high is not None:
        return f" between {low:g} and {high:g}"
    if above is not None:
        return f" greater than {above:g}" + (f" and at most {high:g}" if high is not None else "")
    if low is not None:
        return f" of at least {low:g}"
    return f" of at most {high:g}" if high is not None else ""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
