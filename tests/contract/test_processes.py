"""Child processes never share their parent's database connection."""

from __future__ import annotations

import multiprocessing as mp
import os
from typing import Any

import pytest

from tests.backdoor import backdoor
from tests.conftest import StoreSpec


def _owner_pid(store: Any) -> int:
    """The PID that opened the connection the store would use now."""
    return backdoor(store).owner_pid()


def _child(store: Any, out: mp.Queue) -> None:
    try:
        store.ping()
        out.put((os.getpid(), _owner_pid(store), store.count_jobs.__func__.__name__))
    except Exception as exc:  # reported to the parent
        out.put(repr(exc))


@pytest.mark.parametrize("kind", ["sqlite", "wire"])
def test_a_forked_child_opens_its_own_connection(
    kind: str, sqlite_spec: StoreSpec, request: pytest.FixtureRequest
) -> None:
    spec = sqlite_spec if kind == "sqlite" else request.getfixturevalue("wire_spec")
    store = spec.open()
    store.ping()
    assert _owner_pid(store) == os.getpid()
    ctx = mp.get_context("fork")
    out: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(store, out))
    proc.start()
    result = out.get(timeout=30)
    proc.join(timeout=10)
    assert isinstance(result, tuple), result
    child_pid, owner, _ = result
    assert child_pid != os.getpid() and owner == child_pid
    assert _owner_pid(store) == os.getpid()  # the parent keeps its own
