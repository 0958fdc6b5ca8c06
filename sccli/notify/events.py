"""What to notify: each rule reads the store and yields candidates, a message with the state its
key's lease must be in for it to be sent (:mod:`sccli.notify.claims`).

- ``job_failed``: jobs failed for good, grouped per type and error signature
  (:mod:`sccli.monitor.signatures`); a group is sent when it has a failure after the last one sent.
- ``health_critical``: the overall health turned critical (its key remembers the last state).
- ``unserved_type``: ready jobs of a type that no live service serves, for longer than
  ``check_no_service_warning_seconds``; one message per gap.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sccli.notify.claims import Due
from sccli.notify.webhook import Message

if TYPE_CHECKING:
    from sccli.settings import Settings
    from sccli.store.base import Store

#: Failures older than the cooldown plus this are not looked at (a fleet that was down).
FAILURE_LOOKBACK = timedelta(minutes=10)
HEALTH_KEY = "health"


@dataclass
class Candidate:
    """A message to send if its key's state is ``due``; ``fields`` go on the key when sent."""

    message: Message
    fields: dict[str, Any] = field(default_factory=dict)
    due: Due = lambda state: True


def failed_jobs(store: Store, now: datetime, cooldown: timedelta) -> Iterator[Candidate]:
    """One candidate per (type, signature) with failures since its last message."""
    from sccli.monitor.signatures import merge_groups

    for group in merge_groups(store.stats.failure_groups(now - cooldown - FAILURE_LOOKBACK)):
        last = group["last_seen"]
        key = f"failed:{group['job_type']}:{group['signature_id']}"
        yield Candidate(_failure_message(key, group, now), {"last_failure_at": last}, _newer_than(last))


def _newer_than(last: datetime) -> Due:
    def due(state: dict[str, Any]) -> bool:
        before = state.get("last_failure_at")
        return before is None or last > before

    return due


def _failure_message(key: str, group: dict[str, Any], now: datetime) -> Message:
    job_type, count = group["job_type"], group["count"]
    ids = group["job_ids"][:5]
    return Message(
        key=key, event="job_failed", title=f"{count} {job_type} job(s) failed for good",
        text=f"{group['signature']} (e.g. {', '.join(ids)}); see `sc monitor failures`", at=now,
        fields={"job_type": job_type, "signature": group["signature"], "signature_id": group["signature_id"],
                "count": count, "job_ids": ids, "last_failure_at": group["last_seen"]},
    )


def health_turned_critical(health: dict[str, Any], now: datetime) -> Candidate:
    """A candidate sent when health is critical and the key last saw another state."""
    overall = health["overall"]
    message = Message(
        key=HEALTH_KEY, event="health_critical", title=f"sccli health is {overall}",
        text="; ".join(health.get("issues") or []) or "no issues", at=now, fields={"health": health},
    )
    return Candidate(message, {"state": overall}, lambda state: overall == "critical" and state.get("state") != overall)


def unserved(store: Store, settings: Settings, now: datetime) -> Iterator[Candidate]:
    """One candidate per type whose gap in service is longer than the warning threshold."""
    from sccli.monitor.coverage import unserved_types

    for gap in unserved_types(store, now, settings.stale_after_seconds):
        if gap["seconds"] <= settings.check_no_service_warning_seconds:
            continue
        since = gap["since"]
        message = Message(
            key=f"unserved:{gap['job_type']}", event="unserved_type",
            title=f"no live service serves {gap['job_type']}",
            text=f"{gap['ready']} {gap['job_type']} job(s) ready, unserved for {gap['seconds']:.0f}s", at=now,
            fields={"job_type": gap["job_type"], "ready": gap["ready"], "since": since},
        )
        yield Candidate(message, {"since": since}, _other_gap(since))


def _other_gap(since: datetime) -> Due:
    def due(state: dict[str, Any]) -> bool:
        before = state.get("since")
        return before is None or _ms(before) != _ms(since)  # MongoDB keeps milliseconds only

    return due


def _ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def duty_failed(event: str, name: str, reason: str, now: datetime) -> Candidate:
    """A failed retention step or schedule fire (reported by the service that saw it)."""
    what = "retention" if event == "retention_failed" else f"schedule {name}"
    message = Message(key=f"{event}:{name}", event=event, title=f"{what} failed", text=reason, at=now,
                      fields={"name": name, "reason": reason})
    return Candidate(message)
