"""What a store can hold, checked before anything is written (pure: no I/O).

MongoDB refuses integers beyond signed 64 bits, NaN/Infinity are not JSON (SQLite keeps
documents as JSON), BSON refuses documents over 16 MiB or nested more than 100 levels, and
field names that start with ``$`` or hold a NUL. A value that breaks one of these rules is
refused here with the path of the offending part, so the store never sees it and the caller
gets a clear :class:`~sccli.errors.InvalidInput` instead of an internal error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sccli.errors import InvalidInput

#: BSON's document limit, less room for the job's own fields around parameters or a result.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024 - 256 * 1024
#: BSON allows 100 levels; parameters and results sit one or two levels inside the job document.
MAX_DEPTH = 90
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: Values that always fit (the walk skips them without building their path).
_LEAVES = frozenset({str, bool, type(None)})
#: Longest path shown in an error (deep values get an ellipsis instead of a screenful).
_PATH_CHARS = 80


class NestedTooDeeply(InvalidInput):
    """JSON text nested beyond what the decoder follows (thousands of levels)."""


def check_storable(
    value: Any,
    what: str = "parameters",
    *,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    max_depth: int = MAX_DEPTH,
    allow_dotted_keys: bool = False,
) -> None:
    """Refuse ``value`` (InvalidInput naming the path) when no store could hold it as is.

    ``allow_dotted_keys`` lets keys contain ``.`` (results keyed by file paths); parameters,
    which come from users and are queried by dotted paths, may not.
    """
    stack: list[tuple[Any, str, int]] = [(value, what, 1)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, Mapping):
            _check_depth(path, depth, max_depth)
            for key, child in item.items():
                if (
                    key.__class__ is not str
                    or key[:1] == "$"
                    or "\x00" in key
                    or (not allow_dotted_keys and "." in key)
                ):
                    _check_key(key, path, allow_dotted_keys)
                if child.__class__ not in _LEAVES:  # a string needs no check and no path: most values
                    stack.append((child, f"{path}.{key}", depth + 1))
        elif isinstance(item, (list, tuple)):
            _check_depth(path, depth, max_depth)
            stack.extend(
                (child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item) if child.__class__ not in _LEAVES
            )
        else:
            _check_scalar(item, path)
    size = encoded_size(value)
    if size > max_bytes:
        raise InvalidInput(f"{what}: {size:,} bytes is more than the store can hold ({max_bytes:,} bytes)")


def encoded_size(value: Any) -> int:
    """Bytes of ``value`` as compact JSON: close to its BSON size, and cheap to measure."""
    import msgspec

    return len(msgspec.json.encode(value, enc_hook=str))


def _check_depth(path: str, depth: int, max_depth: int) -> None:
    if depth > max_depth:
        raise InvalidInput(f"{_short(path)}: nested deeper than {max_depth} levels")


def _check_key(key: Any, path: str, allow_dotted: bool) -> None:
    if not isinstance(key, str):
        raise InvalidInput(f"{_short(path)}: key {key!r} is not a string")
    if key.startswith("$"):
        raise InvalidInput(f"{_short(path)}: key {key!r} may not start with '$'")
    if "\x00" in key:
        raise InvalidInput(f"{_short(path)}: key {key!r} may not contain a NUL character")
    if not allow_dotted and "." in key:
        raise InvalidInput(f"{_short(path)}: key {key!r} may not contain '.'")


def _check_scalar(value: Any, path: str) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        shown = str(value) if value.bit_length() <= 128 else f"of {value.bit_length()} bits"
        raise InvalidInput(f"{_short(path)}: integer {shown} does not fit in 64 bits")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"{_short(path)}: {value} is not a finite number")


def _short(path: str) -> str:
    return path if len(path) <= _PATH_CHARS else f"{path[: _PATH_CHARS // 2]}…{path[-_PATH_CHARS // 2:]}"


def decode_json(text: str | bytes, what: str) -> Any:
    """Strict JSON (no NaN/Infinity, no out-of-range numbers, bounded nesting) or InvalidInput."""
    import msgspec

    if isinstance(text, str):
        text = text.encode("utf-8", "surrogatepass")
    if not text.strip():
        raise InvalidInput(f"{what} is empty (give a JSON value)")
    try:
        return msgspec.json.decode(text)
    except RecursionError:
        raise NestedTooDeeply(f"{what} is nested too deeply") from None
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InvalidInput(f"{what} is not valid JSON: {exc}") from None
