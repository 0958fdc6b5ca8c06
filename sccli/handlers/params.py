"""Reading a job's parameters: typed getters that refuse bad values before any work starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sccli.errors import InvalidInput
from sccli.handlers.base import JobContext

_MISSING = object()


def get_str(
    params: dict[str, Any], key: str, default: Any = _MISSING, *, choices: tuple[str, ...] | None = None
) -> str:
    """A non-empty string parameter (optionally one of ``choices``)."""
    value = params.get(key, default)
    if value is _MISSING or value is None:
        raise InvalidInput(f"parameter {key!r} is required")
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"parameter {key!r} must be a non-empty string, got {value!r}")
    if choices is not None and value not in choices:
        raise InvalidInput(f"parameter {key!r} must be one of {', '.join(choices)}; got {value!r}")
    return value


def get_int(params: dict[str, Any], key: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    """An integer parameter within [minimum, maximum]."""
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"parameter {key!r} must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f"..{maximum}" if maximum is not None else " or more"
        raise InvalidInput(f"parameter {key!r} must be {minimum}{upper}, got {value}")
    return value


def get_bool(params: dict[str, Any], key: str, default: bool) -> bool:
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise InvalidInput(f"parameter {key!r} must be true or false, got {value!r}")
    return value


def get_str_list(params: dict[str, Any], key: str, default: list[str] | None = None) -> list[str]:
    """A list of non-empty strings (a single string is accepted as a list of one)."""
    value = params.get(key, default if default is not None else [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidInput(f"parameter {key!r} must be a list of strings, got {value!r}")
    return list(value)


def get_dict(params: dict[str, Any], key: str) -> dict[str, Any]:
    value = params.get(key) or {}
    if not isinstance(value, dict):
        raise InvalidInput(f"parameter {key!r} must be an object, got {value!r}")
    return value


def dataset_input(ctx: JobContext) -> Path:
    """``<in_data_dir>/<uuid>``: where a dataset's raw files live."""
    return Path(ctx.settings.in_data_dir) / ctx.dataset_uuid


def dataset_output(ctx: JobContext) -> Path:
    """``<out_data_dir>/<uuid>``: where a dataset's converted files live."""
    return Path(ctx.settings.out_data_dir) / ctx.dataset_uuid


def confined_param(ctx: JobContext, key: str, default: Path | None, *, must_exist: bool = False) -> Path:
    """A path parameter (or ``default``) resolved inside the data directories."""
    raw = ctx.params.get(key)
    if raw is None:
        if default is None:
            raise InvalidInput(f"parameter {key!r} is required")
        raw = str(default)
    if not isinstance(raw, str):
        raise InvalidInput(f"parameter {key!r} must be a path string, got {raw!r}")
    path = ctx.confine(raw)
    if must_exist and not path.exists():
        raise InvalidInput(f"{key} {path} does not exist")
    return path
