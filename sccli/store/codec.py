"""JSON encoding of documents for backends that store them as text (datetimes survive)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sccli.clock import as_utc, from_epoch

_DATE_KEY = "$date"


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return {_DATE_KEY: as_utc(value).timestamp()}  # type: ignore[union-attr]
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot store a value of type {type(value).__name__}")


def _hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _DATE_KEY in obj:
        return from_epoch(obj[_DATE_KEY])
    return obj


def dumps(doc: dict[str, Any]) -> str:
    """Serialise a document; datetimes become {"$date": epoch}."""
    return json.dumps(doc, default=_default, separators=(",", ":"))


def dumps_value(value: Any) -> str:
    """One value as JSON text (for SQL json_set)."""
    return json.dumps(value, default=_default, separators=(",", ":"))


def loads(text: str) -> dict[str, Any]:
    """Inverse of :func:`dumps`."""
    return json.loads(text, object_hook=_hook)
