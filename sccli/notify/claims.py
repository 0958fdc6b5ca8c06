"""Exactly one sender per notification: a store lease per notification key.

A key's lease (``notify:<key>`` in ``store.leases``) keeps, besides its holder, when the key was
last sent (``sent_at``) and the key's own watermark (the last failure reported, the state last
seen...). A service sends only after taking the lease, which is one conditional write: of several
services that see the same failure, one takes it and the others find it held. The lease is held
for the cooldown (at least :data:`MIN_HOLD`), so a slower service cannot take it right after.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sccli.store.base import Store

PREFIX = "notify:"
#: A key's lease is held at least this long after a send, whatever the cooldown.
MIN_HOLD = timedelta(seconds=60)
#: Whether a key's stored state (its lease document, empty when new) still calls for a message.
Due = Callable[[dict[str, Any]], bool]


def lease_name(key: str) -> str:
    """The lease of a notification key."""
    return PREFIX + key


def key_state(store: Store, key: str) -> dict[str, Any]:
    """The key's lease document (empty when never sent)."""
    return store.leases.get(lease_name(key)) or {}


def in_cooldown(state: dict[str, Any], now: datetime, cooldown: timedelta) -> bool:
    """Whether the key was sent less than ``cooldown`` ago."""
    sent = state.get("sent_at")
    return sent is not None and now < sent + cooldown


def claim(
    store: Store,
    key: str,
    holder: str,
    now: datetime,
    cooldown: timedelta,
    fields: dict[str, Any],
    due: Due = lambda state: True,
) -> bool:
    """Take the right to send ``key`` now: True when its state is ``due``, it is out of its
    cooldown and this holder took its lease (storing ``sent_at`` and ``fields``)."""
    state = key_state(store, key)
    if not due(state) or in_cooldown(state, now, cooldown):
        return False
    until = now + max(cooldown, MIN_HOLD)
    return store.leases.acquire(lease_name(key), holder, now, until, {"sent_at": now, **fields})


def note(store: Store, key: str, holder: str, now: datetime, fields: dict[str, Any]) -> bool:
    """Store ``fields`` on the key without sending (e.g. health back to healthy), if the lease is
    free or ours; it keeps its expiry."""
    state = key_state(store, key)
    until = max(state.get("expires_at") or now, now)
    return store.leases.acquire(lease_name(key), holder, now, until, fields)
