"""Webhook delivery against a local receiver: bodies, signatures, retries with backoff."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sccli.notify.webhook import Message, deliver, render_body
from sccli.settings import NotifyTarget
from tests.notify.receiver import Receiver

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
MESSAGE = Message(key="failed:x:1", event="job_failed", title="2 x job(s) failed", text="boom", at=NOW,
                  fields={"count": 2})


def target(receiver: Receiver, **kw: object) -> NotifyTarget:
    return NotifyTarget(name="ops", url=receiver.url, **kw)  # type: ignore[arg-type]


def no_sleep(waits: list[float]):  # type: ignore[no-untyped-def]
    return waits.append


def test_retry_after_a_500_delivers_once_with_doubling_waits(receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    waits: list[float] = []
    result = deliver(target(receiver), MESSAGE, timeout=5, retries=3, backoff=0.5, sleep=waits.append)
    assert result.ok and result.attempts == 3 and result.status == 200
    assert [r.status for r in receiver.requests] == [500, 503, 200]
    assert len(receiver.delivered()) == 1
    assert waits == [0.5, 1.0]


def test_a_4xx_is_not_retried_and_retries_run_out(receiver: Receiver) -> None:
    receiver.statuses = [404]
    result = deliver(target(receiver), MESSAGE, timeout=5, retries=3, backoff=0, sleep=lambda s: None)
    assert not result.ok and result.attempts == 1 and result.error == "HTTP 404"
    receiver.statuses = [500, 500, 500]
    result = deliver(target(receiver), MESSAGE, timeout=5, retries=2, backoff=0, sleep=lambda s: None)
    assert not result.ok and result.attempts == 3 and result.status == 500
    assert receiver.delivered() == []


def test_a_timeout_is_retried(receiver: Receiver) -> None:
    receiver.delays = [2.0]
    result = deliver(target(receiver), MESSAGE, timeout=0.3, retries=1, backoff=0, sleep=lambda s: None)
    assert result.ok and result.attempts == 2


def test_a_refused_connection_is_an_error_not_an_exception() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = NotifyTarget(name="dead", url=f"http://127.0.0.1:{port}/")
    result = deliver(dead, MESSAGE, timeout=1, retries=1, backoff=0, sleep=lambda s: None)
    assert not result.ok and result.attempts == 2 and result.status is None and result.error


def test_the_receiver_verifies_the_signature_and_a_tampered_body_fails(receiver: Receiver) -> None:
    assert deliver(target(receiver, secret="s3cret"), MESSAGE, timeout=5, retries=0, backoff=0).ok
    request = receiver.requests[0]
    assert request.headers["X-Sc-Signature"].startswith("sha256=")
    assert receiver.verified("s3cret", request)
    assert not receiver.verified("other", request)
    tampered = type(request)(request.body.replace(b"boom", b"BOOM"), request.headers, 200)
    assert not receiver.verified("s3cret", tampered)
    replayed = type(request)(request.body, {**request.headers, "X-Sc-Timestamp": "1"}, 200)
    assert not receiver.verified("s3cret", replayed)


def test_json_and_slack_bodies(receiver: Receiver) -> None:
    doc = json.loads(render_body(MESSAGE, "json"))
    assert doc["event"] == "job_failed" and doc["key"] == "failed:x:1" and doc["count"] == 2
    assert deliver(target(receiver, format="slack"), MESSAGE, timeout=5, retries=0, backoff=0).ok
    assert receiver.requests[0].doc == {"text": "*2 x job(s) failed*\nboom"}
    assert "X-Sc-Signature" not in receiver.requests[0].headers  # no secret, no signature


def test_the_sender_thread_delivers_and_flushes_at_shutdown(receiver: Receiver) -> None:
    import time

    from sccli.service.notify_duty import Sender
    from sccli.settings import Notify

    receiver.delays = [0.3]
    sender = Sender(Notify(targets=[target(receiver)], retry_base_seconds=0))
    sender.send(MESSAGE)
    assert sender.flush(time.monotonic() + 30)
    assert len(receiver.delivered()) == 1
