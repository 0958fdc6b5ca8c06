"""The SQLite document codec: its msgspec fast path reads back exactly what the json path did."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import msgspec  # noqa: F401 -- the codec takes its fast path in a process that has imported msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from sccli.store import codec

DATES = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))
#: What documents hold (the fast path), NaN and numbers beyond 64 bits included.
PLAIN = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(), st.text(), DATES,
)
#: What sends a document to the json path.
ODD = st.one_of(PLAIN, st.sampled_from(["\ud800", "é☃\u2028", "$date", (1, "x"), frozenset({2})]))


def documents(scalars: st.SearchStrategy) -> st.SearchStrategy:
    values = st.recursive(
        scalars,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)),
        max_leaves=20,
    )
    return st.dictionaries(st.text(max_size=8), values, max_size=8)


def old_roundtrip(doc: dict) -> dict:
    """What the codec returned before the fast path: json both ways."""
    return json.loads(json.dumps(doc, default=codec._default, separators=(",", ":")), object_hook=codec._hook)


def outcome(read: object) -> object:
    """What a read gives, or the kind of error it raises (both paths refuse the same odd texts)."""
    try:
        return read()  # type: ignore[operator]
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        return ("refused", type(exc).__name__)


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@settings(max_examples=300, deadline=None)
@given(st.one_of(documents(PLAIN), documents(ODD)))
def test_fast_path_reads_back_what_json_did(doc):
    expected = outcome(lambda: old_roundtrip(doc))
    assert same(outcome(lambda: codec.loads(codec.dumps(doc))), expected)
    # text written by the old json path still reads back the same
    old_text = json.dumps(doc, default=codec._default, separators=(",", ":"))
    assert same(outcome(lambda: codec.loads(old_text)), expected)


def test_a_job_like_document_keeps_its_datetimes_and_unusual_values_fall_back():
    now = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    doc = {
        "created_at": now,
        "errors": [{"at": now + timedelta(seconds=1), "kind": "timeout"}],
        "n": 1.5,
        "p": {"x": [1, "é"]},
    }
    text = codec.dumps(doc)
    assert '"kind":"timeout"' in text  # compact separators: the SQLite timed-out index matches on them
    assert codec.loads(text) == doc
    for odd in ({"t": (1, 2)}, {"s": "\ud800"}, {"f": float("inf")}, {1: "int key"}, {"e": frozenset({1})}):
        assert same(codec.loads(codec.dumps(odd)), old_roundtrip(odd))


@settings(max_examples=200, deadline=None)
@given(st.one_of(documents(PLAIN), documents(ODD)))
def test_a_process_without_msgspec_reads_and_writes_the_same_documents(doc):
    """A read command never imports msgspec: its json path reads the fast path's text, and its own text
    reads back the same in a process that has msgspec."""
    assert codec._coders() is not None  # this process has msgspec (the settings model imports it)
    fast_text = outcome(lambda: codec.dumps(doc))
    original = codec._coders
    codec._coders = lambda: None  # type: ignore[assignment]
    try:
        slow_text = outcome(lambda: codec.dumps(doc))
        if isinstance(fast_text, str):
            assert same(outcome(lambda: codec.loads(fast_text)), outcome(lambda: old_roundtrip(doc)))
    finally:
        codec._coders = original  # type: ignore[assignment]
    if isinstance(slow_text, str):
        assert same(outcome(lambda: codec.loads(slow_text)), outcome(lambda: old_roundtrip(doc)))
