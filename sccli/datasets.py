"""Datasets: creation and the one function that moves a dataset's status.

Every status change of a dataset goes through :func:`move_dataset`, which enforces the
contract's transition table, writes conditionally on the status it read, and records each
move (or refusal, with its reason) in ``job_events``.
"""

from __future__ import annotations

from typing import Any

from sccli.clock import utcnow
from sccli.domain import DatasetStatus, dataset_transition_allowed, is_valid_uuid
from sccli.errors import InvalidInput, NotFound
from sccli.store.base import Store

_STATUSES = {s.value for s in DatasetStatus}


def add_dataset(store: Store, uuid: str, name: str | None = None, status: str = "submitted", **fields: Any) -> dict[str, Any]:
    """Register a dataset document (the portal normally does this); returns it."""
    if not is_valid_uuid(uuid):
        raise InvalidInput(f"malformed dataset UUID {uuid!r}")
    if status not in _STATUSES:
        raise InvalidInput(f"unknown dataset status {status!r}")
    now = utcnow()
    doc = {"uuid": uuid, "name": name or uuid, "status": status, "created_at": now, "updated_at": now}
    doc.update({k: v for k, v in fields.items() if v is not None})
    store.insert_dataset(doc)
    return doc


def get_dataset(store: Store, uuid: str) -> dict[str, Any]:
    """The dataset, or NotFound."""
    doc = store.get_dataset(uuid)
    if doc is None:
        raise NotFound(f"dataset {uuid} not found")
    return doc


def move_dataset(
    store: Store,
    uuid: str,
    target: str,
    *,
    actor: str,
    reason: str,
    job_id: str | None = None,
    error_message: str | None = None,
) -> bool:
    """Move a dataset to ``target`` if the transition table allows it; return whether it moved.

    A refused move is not an error (it never blocks a job): it is recorded as an event with
    ``refused: true`` so ``sc job show`` can explain it. A missing dataset is a no-op.
    """
    for _ in range(3):
        dataset = store.get_dataset(uuid)
        if dataset is None:
            return False
        current = dataset.get("status")
        if current == target:
            return True
        now = utcnow()
        event = {"job_id": job_id, "entity": "dataset", "dataset_uuid": uuid, "from": current, "to": target, "at": now, "actor": actor, "reason": reason}
        if not dataset_transition_allowed(current, target):
            event["refused"] = True
            event["reason"] = f"{reason}; transition {current!r} → {target!r} not allowed"
            store.insert_event(event)
            return False
        fields: dict[str, Any] = {"status": target, "updated_at": now}
        if error_message is not None:
            fields["error_message"] = error_message
        if store.update_dataset(uuid, current, fields):
            store.insert_event(event)
            return True
    return False
