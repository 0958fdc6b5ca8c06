"""Datasets: creation and the one function that moves a dataset's status.

Every status change of a dataset goes through :func:`move_dataset`, which enforces the
contract's transition table, writes conditionally on the status it read, and records each
move (or refusal, with its reason) in ``job_events``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sccli.clock import utcnow
from sccli.domain import DATASET_STAGES, DatasetStatus, dataset_path, heal_allowed, is_valid_uuid
from sccli.errors import InvalidInput, NotFound
from sccli.events import dataset_event
from sccli.store.base import Store

_STATUSES = {s.value for s in DatasetStatus}


def check_dataset_status(status: str) -> str:
    """``status`` if it is one of the 17 dataset statuses; InvalidInput naming them otherwise."""
    if status not in _STATUSES:
        raise InvalidInput(f"unknown dataset status {status!r} (one of: {', '.join(sorted(_STATUSES))})")
    return status


def add_dataset(
    store: Store, uuid: str, name: str | None = None, status: str = DatasetStatus.SUBMITTED.value, **fields: Any
) -> dict[str, Any]:
    """Register a dataset document (the portal normally does this); returns it."""
    if not is_valid_uuid(uuid):
        raise InvalidInput(f"malformed dataset UUID {uuid!r}")
    check_dataset_status(status)
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


def require_dataset_uuid(uuid: str) -> str:
    """``uuid`` if it is a well-formed dataset UUID; InvalidInput otherwise."""
    if not is_valid_uuid(uuid):
        raise InvalidInput(f"malformed dataset UUID {uuid[:60]!r} (expected 8-4-4-4-12 hex)")
    return uuid


def dataset_with_jobs(store: Store, uuid: str, limit: int | None = 200) -> dict[str, Any]:
    """The dataset with its ``jobs`` (newest first, at most ``limit``); InvalidInput or NotFound."""
    from sccli.store.base import JobQuery

    doc = get_dataset(store, require_dataset_uuid(uuid))
    return {**doc, "jobs": store.find_jobs(JobQuery(dataset_uuid=uuid), limit=limit)}


def list_datasets(store: Store, statuses: Sequence[str] | None = None, limit: int | None = 100) -> list[dict[str, Any]]:
    """Datasets in any of ``statuses`` (every one when None), at most ``limit``; InvalidInput on an unknown status."""
    wanted = [check_dataset_status(s) for s in statuses] if statuses else None
    return store.find_datasets(statuses=wanted, limit=limit)


def count_datasets(store: Store, statuses: Sequence[str] | None = None) -> int:
    """How many datasets are in any of ``statuses`` (every one when None)."""
    wanted = {check_dataset_status(s) for s in statuses} if statuses else None
    return sum(n for s, n in store.ledger.count_datasets_by_status().items() if wanted is None or s in wanted)


def move_dataset(
    store: Store,
    uuid: str,
    target: str | Sequence[str],
    *,
    actor: str,
    reason: str,
    job_id: str | None = None,
    error_message: str | None = None,
    heal: bool = False,
    force: bool = False,
    move_id: str | None = None,
    seen: dict[str, Any] | None = None,
    with_events: list[dict[str, Any]] | None = None,
    replay: bool = False,
) -> bool:
    """Move a dataset to ``target`` (or through a list of targets, in one write) if the
    transition table allows it; return whether it reached the last target.

    The table is the rule, with two exits recorded as such: ``heal`` (an administrator's retry
    takes a dataset from ``failed`` or the type's error status back to its ready status) and
    ``force`` (``sc dataset set-status --force``, a migration rollback restoring a recorded
    status). A refused move never blocks a job: it is recorded as an event with ``refused:
    true`` so ``sc job show`` can explain it. A missing dataset is a no-op. ``move_id`` makes a
    replayed follow-up a no-op: the dataset keeps the id of the last move written to it.
    ``seen``: the dataset as the caller just read it, taken for the first try instead of a read
    of its own (the write is conditional on its status: a stale copy only costs the read again).
    ``with_events``: the caller's events still to write, written (and emptied) with the move's
    own once it is written, in one round trip where the store can. ``replay``: a follow-up of
    another writer's, run again: a move it already decided (its events, written or refused, are
    there) is not decided twice (the dataset may have moved since, by hand or by another job).
    """
    targets = [getattr(t, "value", t) for t in ([target] if isinstance(target, str) else target)]
    if replay and move_id is not None and job_id is not None and _decided(store, job_id, move_id):
        return True
    if seen is None and move_id is not None and not (heal or force):
        seen = _move_blind(store, uuid, targets, move_id, error_message)  # written already when not None
    for _ in range(3):
        usable = seen is not None and seen.get("status") is not None  # the write is conditional on it
        dataset, seen = seen if usable else store.get_dataset(uuid), None
        written = dataset is not None and dataset.pop("_moved_at", None)
        if dataset is None:
            return False
        if move_id is not None and dataset.get("status_move_id") == move_id:
            return True
        current = dataset.get("status")
        steps, refused = _plan(current, targets, heal=heal, force=force)
        now = utcnow()
        events = []
        at = current
        for step in steps:
            why = reason + (" (forced)" if force else " (healed)" if heal and at == current else "")
            events.append(dataset_event(uuid, at, step, job_id=job_id, at=now, actor=actor, reason=why))
            at = step
        if refused is not None:
            why = f"{reason}; transition {at!r} → {refused!r} not allowed"
            events.append(dataset_event(uuid, at, refused, job_id=job_id, at=now, actor=actor, reason=why,
                                        refused=True))
        if steps and not written:
            if not store.update_dataset(uuid, current, _move_fields(at, now, move_id, error_message)):
                continue  # moved under us: read again
        for number, event in enumerate(events):
            if move_id is not None:
                event["event_id"] = f"{move_id}:{number}"
        store.insert_events([*(with_events or []), *events])
        if with_events:
            with_events.clear()
        return refused is None
    return False


def _decided(store: Store, job_id: str, move_id: str) -> bool:
    return any(str(e.get("event_id") or "").startswith(f"{move_id}:") for e in store.find_events(job_id))


def _move_fields(status: str | None, now: Any, move_id: str | None, error_message: str | None) -> dict[str, Any]:
    fields: dict[str, Any] = {"status": status, "updated_at": now}
    if error_message is not None:
        fields["error_message"] = error_message
    if move_id is not None:
        fields["status_move_id"] = move_id
    return fields


def _move_blind(store: Store, uuid: str, targets: list[str], move_id: str,
                error_message: str | None) -> dict[str, Any] | None:
    """A move with no copy of the dataset (a claim's), read and written in one round trip: written
    from any status the targets are reached from without a refusal; the dataset as it was (marked
    ``_moved_at``), or None when nothing was written (missing, refused, taken already: read then)."""
    if not targets:
        return None
    plans = {s.value: _plan(s.value, targets, heal=False, force=False) for s in DatasetStatus}
    sources = [status for status, (steps, refused) in plans.items() if steps and refused is None]
    before = store.move_dataset_from(uuid, sources, _move_fields(targets[-1], utcnow(), move_id, error_message))
    return None if before is None else {**before, "_moved_at": True}


def _plan(current: str | None, targets: list[str], *, heal: bool, force: bool) -> tuple[list[str], str | None]:
    """The steps to take from ``current`` and the first target refused, if any."""
    if force:
        return [t for t in targets[-1:] if t != current], None
    if heal and targets:
        return _heal(current, targets[-1])
    steps, refused = dataset_path(current, [DatasetStatus(t) for t in targets])
    return [s.value for s in steps], (None if refused is None else refused.value)


def _heal(current: str | None, target: str) -> tuple[list[str], str | None]:
    """An administrator's retry: outside the table, but only from ``failed`` or the error status of
    the job type whose ready status is ``target``; from anywhere else the move is refused."""
    if current == target:
        return [], None
    stages = next((s for s in DATASET_STAGES.values() if s.ready == target), None)
    if stages is not None and heal_allowed(current, stages):
        return [target], None
    return [], target


def set_dataset_status(
    store: Store, uuid: str, status: str, *, reason: str, actor: str, force: bool = False
) -> dict[str, Any]:
    """An administrator's repair (``sc dataset set-status``): validated against the table unless
    ``force``, always logged with the actor. Conflict when the table refuses it."""
    from sccli.errors import Conflict

    check_dataset_status(status)
    if not reason or not reason.strip():
        raise InvalidInput("a reason is required (--reason TEXT): it is recorded with the change")
    before = get_dataset(store, uuid)
    if before.get("status") == status:
        return before
    if not move_dataset(store, uuid, status, actor=actor, reason=reason, force=force):
        current = get_dataset(store, uuid).get("status")
        raise Conflict(
            f"dataset {uuid} is {current!r}: the table does not allow {current!r} → {status!r} "
            "(use --force to override)"
        )
    return get_dataset(store, uuid)
