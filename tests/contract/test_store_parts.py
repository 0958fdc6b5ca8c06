"""``store.schedules`` and ``store.leases``, run on every backend (SQLite, mongomock, wire server)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from sccli.clock import utcnow
from sccli.errors import Conflict
from sccli.store.base import Store


def schedule(name: str = "nightly", **fields: object) -> dict:
    now = utcnow()
    doc = {
        "schedule_id": str(uuid.uuid4()),
        "name": name,
        "job_type": "data_validation",
        "dataset_uuid": None,
        "parameters": {},
        "priority": 2,
        "cron": "0 3 * * *",
        "timezone": "UTC",
        "catch_up": "latest",
        "paused": False,
        "next_run_at": now.replace(microsecond=0),
        "last_run_at": None,
        "last_job_id": None,
        "created_by": "cli:test",
        "updated_at": now,
    }
    doc.update(fields)
    return doc


def test_insert_get_by_name_and_list_by_name(store: Store) -> None:
    b, a = schedule("b"), schedule("a")
    store.schedules.insert(b)
    store.schedules.insert(a)
    got = store.schedules.get(a["schedule_id"])
    assert got is not None and got["next_run_at"] == a["next_run_at"] and "_id" not in got
    assert got["next_run_at"].utcoffset() == timedelta(0)
    assert store.schedules.by_name("b")["schedule_id"] == b["schedule_id"]  # type: ignore[index]
    assert [s["name"] for s in store.schedules.all()] == ["a", "b"]
    assert store.schedules.get("nope") is None and store.schedules.by_name("nope") is None


def test_names_are_unique(store: Store) -> None:
    store.schedules.insert(schedule("x"))
    with pytest.raises(Conflict):
        store.schedules.insert(schedule("x"))


def test_due_skips_paused_and_future_and_sorts_earliest_first(store: Store) -> None:
    now = utcnow().replace(microsecond=0)
    late = schedule("late", next_run_at=now - timedelta(minutes=1))
    early = schedule("early", next_run_at=now - timedelta(minutes=5))
    store.schedules.insert(late)
    store.schedules.insert(early)
    store.schedules.insert(schedule("paused", paused=True, next_run_at=now - timedelta(hours=1)))
    store.schedules.insert(schedule("future", next_run_at=now + timedelta(minutes=1)))
    assert [s["name"] for s in store.schedules.due(now)] == ["early", "late"]
    assert [s["name"] for s in store.schedules.due(now, limit=1)] == ["early"]


def test_update_fenced_on_next_run_at_lets_exactly_one_writer_win(store: Store) -> None:
    doc = schedule()
    store.schedules.insert(doc)
    sid, t = doc["schedule_id"], doc["next_run_at"]
    wins = [
        store.schedules.update(sid, {"next_run_at": t + timedelta(days=1)}, expect={"next_run_at": t}) for _ in range(3)
    ]
    assert wins == [True, False, False]
    assert store.schedules.get(sid)["next_run_at"] == t + timedelta(days=1)  # type: ignore[index]


def test_update_fenced_on_a_missing_field_and_unset(store: Store) -> None:
    doc = schedule()
    store.schedules.insert(doc)
    sid, t = doc["schedule_id"], doc["next_run_at"]
    assert store.schedules.update(sid, {"firing_at": t}, expect={"firing_at": None})
    assert not store.schedules.update(sid, {"firing_at": t}, expect={"firing_at": None})
    assert store.schedules.update(sid, {}, expect={"firing_at": t}, unset=["firing_at"])
    assert "firing_at" not in store.schedules.get(sid)  # type: ignore[operator]
    assert not store.schedules.update("nope", {"paused": True})


def test_delete(store: Store) -> None:
    doc = schedule()
    store.schedules.insert(doc)
    assert store.schedules.delete(doc["schedule_id"]) and not store.schedules.delete(doc["schedule_id"])
    assert store.schedules.all() == []


def test_a_lease_has_one_holder_until_it_expires_or_is_released(store: Store) -> None:
    now = utcnow()
    assert store.leases.get("retention") is None
    assert store.leases.acquire("retention", "a", now, now + timedelta(minutes=5))
    assert not store.leases.acquire("retention", "b", now, now + timedelta(minutes=5))
    assert store.leases.acquire("retention", "a", now, now + timedelta(minutes=6))  # renewal
    assert store.leases.acquire("retention", "b", now + timedelta(minutes=7), now + timedelta(minutes=9))  # expired
    assert not store.leases.release("retention", "a", now)
    assert store.leases.release("retention", "b", now + timedelta(minutes=8), {"done_period": "2026-12-07"})
    lease = store.leases.get("retention")
    assert lease is not None and lease["done_period"] == "2026-12-07" and lease["holder"] == "b"
    assert store.leases.acquire("retention", "c", now + timedelta(minutes=8), now + timedelta(minutes=10))
    assert store.leases.get("retention")["done_period"] == "2026-12-07"  # type: ignore[index]


def test_a_lease_keeps_fields_given_when_taken_or_renewed(store: Store) -> None:
    now = utcnow()
    assert store.leases.acquire("r", "a", now, now + timedelta(minutes=5), {"running": {"n": 1}})
    assert store.leases.acquire("r", "a", now, now + timedelta(minutes=6), {"running": {"n": 2}})
    assert not store.leases.acquire("r", "b", now, now + timedelta(minutes=6), {"running": {"n": 9}})
    lease = store.leases.get("r")
    assert lease is not None and lease["running"] == {"n": 2} and lease["expires_at"] == now + timedelta(minutes=6)
