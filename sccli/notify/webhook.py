"""Webhook delivery: a message rendered as a generic JSON body or a Slack-style ``{"text": ...}``,
HMAC-SHA256 signed, POSTed with urllib, retried with doubling waits on 5xx, 429 and network errors.

The signature covers ``"<timestamp>." + body`` (the exact body bytes) so a receiver can refuse a
replayed request whose ``X-Sc-Timestamp`` is old: ``X-Sc-Signature: sha256=<hex>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sccli.settings import NotifyTarget

SIGNATURE_HEADER = "X-Sc-Signature"
TIMESTAMP_HEADER = "X-Sc-Timestamp"
USER_AGENT = "sccli-notify/1"
#: Shown of a receiver's error body at most.
ERROR_BODY_CHARS = 200


@dataclass(frozen=True)
class Message:
    """One notification: ``key`` groups repeats (the cooldown's unit), ``event`` is one of
    :data:`sccli.settings.NOTIFY_EVENTS` (or ``test``)."""

    key: str
    event: str
    title: str
    text: str
    at: datetime
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """What came of sending one message to one target."""

    target: str
    ok: bool
    attempts: int
    status: int | None = None
    error: str | None = None


def render_body(message: Message, fmt: str) -> bytes:
    """The request body: every field for ``json``, one line of text for ``slack``."""
    if fmt == "slack":
        return json.dumps({"text": f"*{message.title}*\n{message.text}"}).encode()
    doc = {"event": message.event, "key": message.key, "title": message.title, "text": message.text,
           "at": message.at.isoformat(), **message.fields}
    return json.dumps(doc, default=str, sort_keys=True).encode()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, timestamp + "." + body)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` is :func:`sign`'s for these bytes (constant-time compare)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is misconfigured: report it rather than re-POST elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def post_once(target: NotifyTarget, body: bytes, timeout: float, now: Callable[[], float] = time.time) -> int:
    """POST ``body`` once; the HTTP status (raises OSError on a network error or timeout)."""
    timestamp = str(int(now()))
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, TIMESTAMP_HEADER: timestamp}
    if target.secret:
        headers[SIGNATURE_HEADER] = sign(target.secret, timestamp, body)
    request = urllib.request.Request(target.url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)


def retryable(status: int | None) -> bool:
    """A network error (None), a 5xx or a 429 may pass; any other status will not."""
    return status is None or status >= 500 or status == 429


def deliver(
    target: NotifyTarget,
    message: Message,
    *,
    timeout: float,
    retries: int,
    backoff: float,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """Send ``message`` to ``target``, trying again ``retries`` times (waits ``backoff``, 2x, 4x...)."""
    body = render_body(message, target.format)
    status: int | None = None
    error: str | None = None
    for attempt in range(1, retries + 2):
        try:
            status, error = post_once(target, body, timeout), None
        except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections are OSErrors
            status, error = None, str(getattr(exc, "reason", None) or exc)
        if status is not None and 200 <= status < 300:
            return Delivery(target.name, True, attempt, status)
        if not retryable(status) or attempt > retries:
            break
        sleep(backoff * 2 ** (attempt - 1))
    return Delivery(target.name, False, attempt, status, error or f"HTTP {status}")


def sample_message(now: datetime) -> Message:
    """What ``sc notify test`` sends."""
    return Message(key="test", event="test", title="sccli test notification",
                   text="If you can read this, sccli can reach this webhook.", at=now)


def send_sample(notify: Any, target: str | None, now: datetime) -> list[Delivery]:
    """Send :func:`sample_message` to ``target`` (every target when None), once each, no retry;
    raises CheckFailed naming every target that did not answer 2xx."""
    from sccli.errors import CheckFailed, InvalidInput, NotFound

    if notify is None:
        raise InvalidInput("settings: notify is not set (no webhook targets); see docs/notifications.md")
    chosen = [t for t in notify.targets if target is None or t.name == target]
    if not chosen:
        names = ", ".join(t.name for t in notify.targets)
        raise NotFound(f"no notify target named {target!r} (targets: {names})")
    message = sample_message(now)
    results = [deliver(t, message, timeout=notify.timeout_seconds, retries=0, backoff=0) for t in chosen]
    failed = [f"{r.target}: {r.error}" for r in results if not r.ok]
    if failed:
        raise CheckFailed("notification not delivered to " + "; ".join(failed))
    return results
