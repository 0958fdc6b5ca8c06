"""What a service sends and when, on every backend: one message per type and failure signature
per cooldown, exactly one holder winning each, health turning critical, unserved types, and
failures reported by the other duties."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sccli.notify.webhook import Message
from sccli.service.notify_duty import NotifyDuty, notify_step
from sccli.settings import Notify, NotifyTarget, Settings
from sccli.store.base import Store
from tests.monitor.history import NOW, insert, job

URL = "http://127.0.0.1:9/hook"


def settings(*events: str, cooldown: float = 30) -> Settings:
    notify = Notify(targets=[NotifyTarget(name="ops", url=URL)], cooldown_minutes=cooldown, events=list(events))
    return Settings(notify=notify)


def fail(
    store: Store, at: Any, error: str = "input /data/x.bin not found", job_type: str = "dataset_conversion"
) -> str:
    return insert(store, job(job_type, "failed", completed_at=at, attempts=2, max_attempts=2, error=error))[0]


def keys(messages: list[Message]) -> list[str]:
    return [m.event for m in messages]


def test_two_failures_of_one_signature_within_the_cooldown_make_one_message(store: Store) -> None:
    s = settings("job_failed")
    first = fail(store, NOW - timedelta(minutes=1))
    sent = notify_step(store, s, "a", now=NOW)
    assert keys(sent) == ["job_failed"] and sent[0].fields["job_ids"] == [first]
    assert sent[0].fields["signature"] == "input <path> not found"
    fail(store, NOW + timedelta(minutes=1), error="input /data/y.bin not found")  # same signature
    assert notify_step(store, s, "a", now=NOW + timedelta(minutes=2)) == []
    assert notify_step(store, s, "b", now=NOW + timedelta(minutes=2)) == []
    later = notify_step(store, s, "b", now=NOW + timedelta(minutes=31))  # after the cooldown: the second one
    assert keys(later) == ["job_failed"] and later[0].fields["count"] == 2
    assert notify_step(store, s, "a", now=NOW + timedelta(minutes=70)) == []  # nothing new since


def test_each_signature_and_type_has_its_own_key(store: Store) -> None:
    s = settings("job_failed")
    fail(store, NOW - timedelta(minutes=1))
    fail(store, NOW - timedelta(minutes=1), error="converter exited with code 137")
    fail(store, NOW - timedelta(minutes=1), job_type="google_sync")
    sent = notify_step(store, s, "a", now=NOW)
    assert len({m.key for m in sent}) == 3


def test_of_two_holders_at_the_same_moment_one_sends(store: Store) -> None:
    s = settings("job_failed", cooldown=0)
    fail(store, NOW - timedelta(minutes=1))
    sent = [notify_step(store, s, holder, now=NOW) for holder in ("a", "b", "c")]
    assert [len(x) for x in sent] == [1, 0, 0]
    # Without a cooldown the next failure is news at once, but the lease still keeps others out.
    fail(store, NOW + timedelta(seconds=1))
    assert notify_step(store, s, "b", now=NOW + timedelta(seconds=2)) == []
    assert len(notify_step(store, s, "a", now=NOW + timedelta(seconds=2))) == 1


def test_health_turning_critical_is_sent_once_until_it_recovers(store: Store) -> None:
    s = settings("health_critical")
    fail(store, NOW - timedelta(minutes=5))  # 1 of 1 finished jobs failed: critical
    sent = notify_step(store, s, "a", now=NOW)
    assert keys(sent) == ["health_critical"] and "failure rate" in sent[0].text
    assert notify_step(store, s, "a", now=NOW + timedelta(minutes=40)) == []  # still critical: no news
    assert notify_step(store, s, "a", now=NOW + timedelta(hours=2)) == []  # healthy again (noted)
    fail(store, NOW + timedelta(hours=2, minutes=1))
    assert keys(notify_step(store, s, "b", now=NOW + timedelta(hours=2, minutes=2))) == ["health_critical"]


def test_a_type_no_live_service_serves(store: Store) -> None:
    s = settings("unserved_type")
    doc = job("dataset_conversion", "pending", created_at=NOW - timedelta(minutes=10), completed_at=None, duration=None)
    insert(store, doc)
    sent = notify_step(store, s, "a", now=NOW)
    assert keys(sent) == ["unserved_type"] and sent[0].fields["job_type"] == "dataset_conversion"
    assert notify_step(store, s, "b", now=NOW + timedelta(minutes=45)) == []  # the same gap


def test_failures_reported_by_other_duties(store: Store) -> None:
    s = settings("schedule_failed")
    duty = NotifyDuty(s, "svc", "w1")
    duty.report("schedule_failed", "nightly", "unknown job type 'x'")
    duty.report("retention_failed", "retention", "not enabled in events: dropped")

    class Q:
        pass

    q = Q()
    q.store = store  # type: ignore[attr-defined]
    sent = duty.run(q)
    assert [(m.event, m.text) for m in sent] == [("schedule_failed", "unknown job type 'x'")]
    assert duty.run(q) == []


def test_the_service_wires_schedule_and_retention_failures_to_the_notify_duty(tmp_path: Any) -> None:
    from datetime import UTC, datetime

    from sccli.schedule_firing import Fire
    from sccli.service.periodic import service_duties
    from sccli.settings import Retention

    s = settings("schedule_failed", "retention_failed")
    s.retention = Retention()
    duties = {d.name: d for d in service_duties(s, "svc", "w1").duties}
    notify = duties["notify"]
    at = datetime(2026, 3, 10, tzinfo=UTC)
    fires = [Fire("s1", "nightly", at, "failed", reason="unknown job type 'x'"), Fire("s2", "ok", at, "queued", "j")]
    duties["schedules"].done(fires, None)
    duties["retention"].done(None, RuntimeError("disk full"))
    got = [(c.message.key, c.message.text) for c in notify.reported]  # type: ignore[attr-defined]
    assert got == [("schedule_failed:nightly", "unknown job type 'x'"), ("retention_failed:retention", "disk full")]
