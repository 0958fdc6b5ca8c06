"""Three real ``sc service run`` processes on one store, a job failing for good: the webhook
receives exactly one notification of it, signed, delivered after the receiver's first 500
(SQLite and the wire server)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.conftest import StoreSpec, make_spec
from tests.notify.receiver import Receiver
from tests.service.conftest import make_queue, new_job, wait_for, write_settings

STEP = "notify step:"


@pytest.fixture(params=["sqlite", "wire"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    return make_spec(request.param, tmp_path)


def test_three_services_one_failure_exactly_one_delivery_after_a_500(
    spec: StoreSpec, tmp_path: Path, services: Callable[..., Any], receiver: Receiver
) -> None:
    notify = {
        "targets": [{"name": "ops", "url": receiver.url, "secret": "fleet-secret"}],
        "events": ["job_failed"], "period_seconds": 0.05, "retry_base_seconds": 0.05, "cooldown_minutes": 30,
    }
    settings = write_settings(tmp_path, notify=notify, types=["fail"])
    store = spec.open()
    running = [services(spec, settings, "--verbose") for _ in range(3)]
    receiver.statuses = [500]  # the first try fails: the sender retries
    job_id = new_job(make_queue(store, settings), "fail", max_attempts=1)
    wait_for(receiver.delivered, timeout=90, what="a delivered notification")
    # Let every service look at least five more times: none may send it again.
    seen = [s.log().count(STEP) for s in running]
    for service, before in zip(running, seen, strict=True):
        wait_for(lambda s=service, b=before: s.log().count(STEP) >= b + 5, timeout=60, what="five more notify steps")
    for service in running:
        service.proc.send_signal(signal.SIGTERM)
    for service in running:
        assert service.wait(30) == 0, service.log()[-2000:]

    assert [r.status for r in receiver.requests] == [500, 200]
    [delivered] = receiver.delivered()
    assert receiver.verified("fleet-secret", delivered)
    assert delivered.doc["event"] == "job_failed" and delivered.doc["job_ids"] == [job_id]
    assert delivered.doc["count"] == 1 and delivered.doc["job_type"] == "fail"
    senders = [s for s in running if "notified ops of failed:fail:" in s.log()]
    assert len(senders) == 1
