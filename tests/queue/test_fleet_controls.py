"""Fleet-wide type controls: max_running and rate held by the gate on every backend, overrides,
and the audit record of every change."""

from __future__ import annotations

import pytest

from sccli.controls import Rate, parse_minutes, parse_rate, read_limits, set_limits
from sccli.errors import InvalidInput
from sccli.gate import why_held
from sccli.queue import JobQueue
from sccli.store.base import JobQuery, Store
from tests.conftest import add_dataset

TYPE = "file_extraction"


def _jobs(queue: JobQueue, n: int, job_type: str = TYPE) -> list[str]:
    return [queue.create_job(add_dataset(queue.store), job_type, allow_duplicate=True) for _ in range(n)]


def _running(store: Store, job_type: str = TYPE) -> int:
    return store.count_jobs(JobQuery(status=["running"], job_type=[job_type]))


def test_rate_and_timeout_parse() -> None:
    assert parse_rate("60/h") == Rate(60, 3600.0) and parse_rate("5/s") == Rate(5, 1.0)
    assert parse_rate("100/10m") == Rate(100, 600.0) and str(parse_rate("100/10m")) == "100/10m"
    assert str(parse_rate("60/h")) == "60/h"
    assert parse_minutes("30m") == 30 and parse_minutes("2h") == 120 and parse_minutes("45") == 45
    for bad in ("", "5", "0/s", "5/x", "-1/s", "5/0s"):
        with pytest.raises(InvalidInput):
            parse_rate(bad)
    for bad in ("0m", "30s", "8d", "abc"):
        with pytest.raises(InvalidInput):
            parse_minutes(bad)


def test_max_running_is_held_across_workers_and_freed_with_the_job(queue: JobQueue) -> None:
    _jobs(queue, 5)
    set_limits(queue.store, TYPE, {"max_running": 2}, [], "cli:test", "drive quota")
    first = [queue.claim_next(f"w{i}", [TYPE]) for i in range(4)]
    claimed = [j for j in first if j is not None]
    assert len(claimed) == 2 and _running(queue.store) == 2
    held = why_held(queue.store, TYPE)
    assert held is not None and held.why == "cap" and "max_running 2" in held.detail
    queue.complete(claimed[0]["job_id"], claimed[0]["lease_token"])
    nxt = queue.claim_next("w9", [TYPE])
    assert nxt is not None and _running(queue.store) == 2
    assert queue.claim_next("w10", [TYPE]) is None
    set_limits(queue.store, TYPE, {"max_running": 3}, [], "cli:test")  # raised: the next claim sees it
    assert queue.claim_next("w11", [TYPE]) is not None and _running(queue.store) == 3


def test_a_capped_type_does_not_block_other_types(queue: JobQueue) -> None:
    _jobs(queue, 3)
    other = _jobs(queue, 1, "data_validation")
    set_limits(queue.store, TYPE, {"max_running": 1}, [], "cli:test")
    got = [queue.claim_next(f"w{i}") for i in range(3)]
    ids = {j["job_id"] for j in got if j}
    assert other[0] in ids and len(ids) == 2 and _running(queue.store) == 1


def test_rate_limits_starts_in_the_period(queue: JobQueue) -> None:
    _jobs(queue, 5)
    set_limits(queue.store, TYPE, {"rate": parse_rate("2/h")}, [], "cli:test")
    got = [queue.claim_next(f"w{i}", [TYPE]) for i in range(4)]
    assert sum(j is not None for j in got) == 2
    held = why_held(queue.store, TYPE)
    assert held is not None and held.why == "rate"
    set_limits(queue.store, TYPE, {}, ["rate"], "cli:test")
    assert queue.claim_next("w9", [TYPE]) is not None


def test_a_claim_that_finds_nothing_gives_its_slot_back(queue: JobQueue) -> None:
    set_limits(queue.store, TYPE, {"max_running": 1, "rate": parse_rate("1/h")}, [], "cli:test")
    assert queue.claim_next("w1", [TYPE]) is None
    _jobs(queue, 1)
    assert queue.claim_next("w1", [TYPE]) is not None


def test_overrides_apply_to_new_jobs_below_their_own_values(queue: JobQueue) -> None:
    set_limits(queue.store, TYPE, {"priority": 3, "timeout_minutes": 7, "max_attempts": 9}, [], "cli:test")
    job = queue.require_job(_jobs(queue, 1)[0])
    assert (job["priority"], job["timeout_minutes"], job["max_attempts"]) == (3, 7, 9)
    own = queue.create_job(add_dataset(queue.store), TYPE, priority=1, timeout_minutes=2, max_attempts=1)
    job = queue.require_job(own)
    assert (job["priority"], job["timeout_minutes"], job["max_attempts"]) == (1, 2, 1)


def test_every_change_is_recorded_and_clear_removes_it(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[dict] = []
    real = store.insert_event
    monkeypatch.setattr(store, "insert_event", lambda e: (events.append(e), real(e))[1])
    set_limits(store, TYPE, {"max_running": 4, "priority": 1}, [], "cli:alice", "quota")
    set_limits(store, TYPE, {}, ["priority"], "cli:bob")
    limits = read_limits(store)[TYPE]
    assert limits.max_running == 4 and limits.priority is None
    assert set_limits(store, TYPE, {}, ["all"], "cli:bob") is None and TYPE not in read_limits(store)
    assert [(e["actor"], e["entity"], e["job_type"]) for e in events] == [("cli:alice", "queue", TYPE)] + [
        ("cli:bob", "queue", TYPE)
    ] * 2
    assert events[0]["reason"] == "quota" and events[0]["to"]["max_running"] == 4 and events[1]["from"]["priority"] == 1
    for bad in ({"max_running": 0}, {"max_attempts": 101}, {"priority": 9}, {"nope": 1}):
        with pytest.raises(InvalidInput):
            set_limits(store, TYPE, bad, [], "cli:x")


def test_plugin_defaults_sit_between_the_control_and_the_type_table(store: Store, tmp_path, monkeypatch) -> None:
    import json

    from sccli.settings import load_settings

    (tmp_path / "declaring_plugin.py").write_text(
        "DEFAULTS = {'description': 'Says hello', 'priority': 3, 'timeout_minutes': 11, 'max_attempts': 4}\n"
        "def run(ctx):\n    return {}\n"
    )
    (tmp_path / "settings.json").write_text(json.dumps({"handlers": {"hello": "declaring_plugin:run"}}))
    monkeypatch.syspath_prepend(str(tmp_path))
    queue = JobQueue.from_settings(store, load_settings(tmp_path / "settings.json"), check_paths=False)
    job = queue.require_job(queue.create_job(add_dataset(store), "hello"))
    assert (job["priority"], job["timeout_minutes"], job["max_attempts"]) == (3, 11, 4)  # the plugin's, not 2/60/3
    set_limits(store, "hello", {"timeout_minutes": 5}, [], "cli:test")
    queue._limits_read = None  # read at most once a second: a new second here
    job = queue.require_job(queue.create_job(add_dataset(store), "hello"))
    assert (job["priority"], job["timeout_minutes"], job["max_attempts"]) == (3, 5, 4)


def test_swap_control_is_a_compare_and_swap(store: Store) -> None:
    doc = {"name": "gate:x", "kind": "gate", "job_type": "x", "version": 0, "holders": []}
    assert store.swap_control(doc, None) is True
    assert store.swap_control({**doc, "holders": ["lost"]}, None) is False  # exists: not replaced
    assert store.swap_control({**doc, "version": 1, "holders": ["a"]}, 0) is True
    assert store.swap_control({**doc, "version": 1, "holders": ["b"]}, 0) is False  # a stale version loses
    [stored] = [d for d in store.list_controls() if d["name"] == "gate:x"]
    assert stored["version"] == 1 and stored["holders"] == ["a"]
