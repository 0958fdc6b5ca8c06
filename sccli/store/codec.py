"""JSON encoding of documents for backends that store them as text (datetimes survive).

Documents made only of the plain JSON types (exactly ``str``, ``int``, finite ``float``,
``bool``, ``None``, ``list``, ``dict`` with ``str`` keys) and datetimes take msgspec's encoder
and decoder, about ten times faster than :mod:`json` (the migration writes three documents per
job, a service rewrites a job's document on each update). Anything else (a tuple, a set, an
enum, a lone surrogate, NaN, a number msgspec will not read) takes :mod:`json` as before, so
what :func:`loads` returns is the same whichever path wrote it. The text may hold UTF-8 where
:mod:`json` escaped to ASCII; every query reads it through SQLite's JSON functions.

msgspec is used only by a process that has already imported it (the service and the migration,
through the settings model): a read command never imports it, since the import costs a read
more (about 20 ms) than its decoder saves on a page of jobs.
"""

from __future__ import annotations

import json
import math
import sys
from datetime import datetime
from typing import Any, NamedTuple

from sccli.clock import as_utc, from_epoch

_DATE_KEY = "$date"
_PLAIN = frozenset({str, int, bool, type(None)})
_CONTAINERS = frozenset({dict, list})


class _Unusual(Exception):
    """A value the fast path leaves to :mod:`json`."""


class _Coders(NamedTuple):
    encode: Any
    decode: Any
    refused: tuple[type[BaseException], ...]


_FAST: list[_Coders] = []


def _coders() -> _Coders | None:
    """msgspec's encoder and decoder once the process has imported msgspec, else None (json)."""
    if not _FAST:
        msgspec = sys.modules.get("msgspec")
        if msgspec is None:
            return None
        errors = (msgspec.DecodeError, msgspec.ValidationError, RecursionError)
        _FAST.append(_Coders(msgspec.json.Encoder().encode, msgspec.json.Decoder().decode, errors))
    return _FAST[0]


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return {_DATE_KEY: as_utc(value).timestamp()}
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot store a value of type {type(value).__name__}")


def _hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _DATE_KEY in obj:
        return from_epoch(obj[_DATE_KEY])
    return obj


def _plain(value: Any) -> Any:
    """``value`` with datetimes as ``{"$date": epoch}``; raises _Unusual for anything but the plain types."""
    kind = value.__class__
    if kind is dict:
        out = None  # copied only when a value changes
        for key, item in value.items():
            if key.__class__ is not str:
                raise _Unusual
            if item.__class__ not in _PLAIN:
                if out is None:
                    out = value.copy()
                out[key] = _plain(item)
        return value if out is None else out
    if kind in _PLAIN:
        return value
    if kind is datetime:
        return {_DATE_KEY: as_utc(value).timestamp()}
    if kind is list:
        return [item if item.__class__ in _PLAIN else _plain(item) for item in value]
    if kind is float and math.isfinite(value):
        return value
    raise _Unusual


def _restore(value: Any) -> Any:
    """The decoded text with ``{"$date": epoch}`` back as datetimes (what :func:`_hook` does)."""
    if value.__class__ is dict:
        if len(value) == 1 and _DATE_KEY in value:
            return from_epoch(value[_DATE_KEY])
        for key, item in value.items():
            if item.__class__ in _CONTAINERS:
                value[key] = _restore(item)
        return value
    if value.__class__ is list:
        return [_restore(item) if item.__class__ in _CONTAINERS else item for item in value]
    return value


def dumps(doc: dict[str, Any]) -> str:
    """Serialise a document; datetimes become {"$date": epoch}."""
    fast = _coders()
    if fast is not None:
        try:
            return fast.encode(_plain(doc)).decode()
        except (_Unusual, TypeError, ValueError, OverflowError, RecursionError):  # UnicodeEncodeError: a ValueError
            pass
    return json.dumps(doc, default=_default, separators=(",", ":"))


def dumps_value(value: Any) -> str:
    """One value as JSON text (for SQL json_set)."""
    return json.dumps(value, default=_default, separators=(",", ":"))


def loads(text: str) -> dict[str, Any]:
    """Inverse of :func:`dumps`."""
    fast = _coders()
    if fast is not None:
        try:
            return _restore(fast.decode(text))
        except fast.refused:  # NaN, 1e400, "\ud800": json reads them
            pass
    return json.loads(text, object_hook=_hook)
