"""Service settings (settings.json): the original keys plus sccli's, validated at load.

An unknown key, a value of the wrong type or a missing data directory is refused with one
line naming the key (InvalidInput, exit 2).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sccli.errors import InvalidInput, NotFound

DATA_DIR_KEYS = ("in_data_dir", "out_data_dir", "sync_data_dir", "auth_dir")


@dataclass
class Settings:
    """Every setting with its default (the original's defaults under /mnt/visus_datasets)."""

    db_name: str = "scientistcloud"
    db_url: str | None = None
    in_data_dir: str = "/mnt/visus_datasets/upload"
    out_data_dir: str = "/mnt/visus_datasets/converted"
    sync_data_dir: str = "/mnt/visus_datasets/sync"
    auth_dir: str = "/mnt/visus_datasets/auth"
    backup_dir: str | None = None
    workers: int = 2
    types: list[str] | None = None
    poll_interval_seconds: float = 0.1
    heartbeat_seconds: float = 10.0
    stale_after_seconds: float = 60.0
    drain_seconds: float = 30.0
    kill_grace_seconds: float = 5.0
    log_dir: str = "/tmp"
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    max_concurrent_by_type: dict[str, int] = field(default_factory=dict)
    offline: bool = False
    handlers: dict[str, str] = field(default_factory=dict)
    converters: dict[str, list[str]] = field(default_factory=dict)
    rsync_allowed_hosts: list[str] = field(default_factory=list)
    backup_keep: int = 5
    health_failure_rate_critical: float = 0.20
    health_stale_warning: int = 5
    check_no_service_warning_seconds: float = 120.0
    check_no_service_critical_seconds: float = 900.0
    api_tokens: dict[str, str] = field(default_factory=dict)
    api_roles: dict[str, str] = field(default_factory=dict)
    api_session_secret: str | None = None
    metrics_public: bool = False
    migration_grace_seconds: float = 3600.0
    starvation_minutes: float | None = None
    store_timeout_seconds: float = 20.0

    @property
    def data_dirs(self) -> list[Path]:
        """The directories job paths must stay inside."""
        dirs = [self.in_data_dir, self.out_data_dir, self.sync_data_dir]
        if self.backup_dir:
            dirs.append(self.backup_dir)
        return [Path(d) for d in dirs]

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def check_data_dirs(self) -> None:
        """Refuse to start when a configured data directory is missing."""
        for key in DATA_DIR_KEYS:
            path = Path(getattr(self, key))
            if not path.is_dir():
                raise InvalidInput(f"settings: {key} directory {path} does not exist")


_NUMBER = (int, float)


def _check_type(key: str, value: Any, default: Any, annotation: str) -> Any:
    if value is None and "None" in annotation:
        return None
    if "float" in annotation and isinstance(value, _NUMBER) and not isinstance(value, bool):
        if value < 0:
            raise InvalidInput(f"settings: {key} must not be negative, got {value!r}")
        return float(value)
    expected: type = type(default) if default is not None and not isinstance(default, (dict, list)) else (
        dict if "dict" in annotation else list if "list" in annotation else str
    )
    if isinstance(value, bool) and expected is not bool or not isinstance(value, expected):
        raise InvalidInput(f"settings: {key} must be {expected.__name__}, got {type(value).__name__} {value!r}")
    if expected is int and value < 1:
        raise InvalidInput(f"settings: {key} must be at least 1, got {value!r}")
    return value


def settings_from_dict(data: dict[str, Any]) -> Settings:
    """Validate a mapping of settings (unknown keys and wrong types are refused)."""
    if not isinstance(data, dict):
        raise InvalidInput("settings must be a JSON object")
    known = {f.name: f for f in fields(Settings)}
    defaults = Settings()
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise InvalidInput(f"settings: unknown key {key!r}")
        values[key] = _check_type(key, value, getattr(defaults, key), str(known[key].type))
    return Settings(**values)


def load_settings(path: str | Path | None) -> Settings:
    """Read settings.json (or defaults when ``path`` is None)."""
    if path is None:
        return Settings()
    file = Path(path)
    if not file.is_file():
        raise NotFound(f"settings file {file} not found")
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"settings file {file} is not valid JSON: {exc}") from None
    return settings_from_dict(data)
