"""sccli.limits: what no store can hold is refused with the path of the offending value."""

from __future__ import annotations

from typing import Any

import pytest

from sccli.errors import InvalidInput
from sccli.limits import MAX_DEPTH, check_storable, decode_json, encoded_size


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": {"b": 2**70}}, "parameters.a.b: integer 1180591620717411303424 does not fit in 64 bits"),
        ({"a": [1, -(2**63) - 1]}, "parameters.a[1]: integer"),
        ({"a": [0, {"b": float("nan")}]}, "parameters.a[1].b: nan is not a finite number"),
        ({"x": float("inf")}, "parameters.x: inf is not a finite number"),
        ({"x": float("-inf")}, "parameters.x: -inf is not a finite number"),
        ({"x": {1: "a"}}, "parameters.x: key 1 is not a string"),
        ({"$where": 1}, "parameters: key '$where' may not start with '$'"),
        ({"a": {"b.c": 1}}, "parameters.a: key 'b.c' may not contain '.'"),
        ({"a\x00b": 1}, "may not contain a NUL character"),
        ({"x": 2 ** 10000}, "integer of 10001 bits does not fit in 64 bits"),
        (nested(MAX_DEPTH + 1), f"nested deeper than {MAX_DEPTH} levels"),
    ],
)
def test_refusals_name_the_path(value: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_storable(value)
    assert message in str(caught.value)


def test_what_a_store_holds_passes() -> None:
    check_storable(
        {"a": [1, 2.5, "x", None, True, {"b": 2**63 - 1, "c": -(2**63)}], "": {}, "é☃": "\x00 in a value is fine"}
    )
    check_storable(nested(MAX_DEPTH))
    check_storable({"files": {"dir/a.tif": "sha256"}}, "result", allow_dotted_keys=True)


def test_size_limit_counts_encoded_bytes() -> None:
    value = {"blob": "x" * 2000}
    assert 2000 < encoded_size(value) < 2100
    with pytest.raises(InvalidInput, match=r"result: 2,0\d\d bytes is more than the store can hold \(1,000 bytes\)"):
        check_storable(value, "result", max_bytes=1000)
    check_storable(value, max_bytes=4000)


def test_thousands_deep_is_refused_without_recursion() -> None:
    value: Any = 1
    for _ in range(50_000):
        value = [value]
    with pytest.raises(InvalidInput, match="nested deeper"):
        check_storable({"a": value})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"), ("  ", "is empty"), ("NaN", "not valid JSON"), ('{"a": Infinity}', "not valid JSON"),
        ("1e400", "not valid JSON"), ("[" * 100_000 + "]" * 100_000, "nested too deeply"), ("{", "not valid JSON"),
        ("\udcff", "not valid JSON"),
    ],
)
def test_strict_json(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        decode_json(text, "--params-json")


def test_strict_json_keeps_big_integers_for_check_storable() -> None:
    assert decode_json('{"a": 123456789012345678901234567890}', "x") == {"a": 123456789012345678901234567890}
