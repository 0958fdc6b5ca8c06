"""What a job transition entails beyond the job document: its event, its dataset's move, a
chained job. Never half done.

Each follow-up is plain data (so it can wait in an outbox) and idempotent when run again:
events carry an ``event_id`` (written at most once), a dataset move carries a ``move_id`` that
the dataset records (a replay finds it there and stops), a chained job has a ``job_id`` derived
from its parent (inserted at most once).

- On a store with transactions (``store.atomic_followups``, SQLite) the transition's write and
  its follow-ups are one transaction.
- Elsewhere (MongoDB) the transition's own single-document update appends the follow-ups to the
  job's ``outbox``; the writer runs them right after and pulls them off; a crash in between leaves
  them in the outbox, where any service's sweeper finds and runs them (:func:`drain_outbox`).
"""

from __future__ import annotations

import os
import signal
import uuid as uuidlib
from typing import Any

from sccli import figures
from sccli.clock import to_epoch
from sccli.domain import JobStatus
from sccli.events import job_event
from sccli.store.base import JobChange, JobQuery, Store

#: Namespace of the ids of chained jobs: uuid5(parent job id + child type).
CHAIN_NAMESPACE = uuidlib.UUID("6f1c2c56-3b7e-4c83-9a55-2f0b1b7d8e11")

_CRASH_AT = os.environ.get("SC_TEST_CRASH_AT", "")


def crash_point(name: str, stage: str | None = None) -> None:
    """Test hook: SIGKILL this process at the named point (``after_job_write``, ``after_event``,
    ``after_dataset``, ``after_child``; optionally ``:<job status>`` of the transition) when
    ``SC_TEST_CRASH_AT`` names it (set only by the crash tests; read once at import)."""
    if _CRASH_AT and _CRASH_AT in (name, f"{name}:{stage}"):
        os.kill(os.getpid(), signal.SIGKILL)


def new_id() -> str:
    return uuidlib.uuid4().hex


def chained_job_id(parent_job_id: str, child_type: str) -> str:
    """The one id a chained job can have: finishing its parent twice cannot create two children."""
    return str(uuidlib.uuid5(CHAIN_NAMESPACE, f"{parent_job_id}:{child_type}"))


# -- follow-up items ------------------------------------------------------------------------
def event_item(event: dict[str, Any]) -> dict[str, Any]:
    """Record ``event`` (given an ``event_id`` here when it has none)."""
    return {"op": "event", "event": {**event, "event_id": event.get("event_id") or new_id()}}


def dataset_item(
    uuid: str,
    targets: list[str],
    *,
    job_id: str | None,
    actor: str,
    reason: str,
    error_message: str | None = None,
    heal: bool = False,
    seen: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Move a dataset through ``targets`` by the table (``heal``: an administrator's retry;
    ``seen``: the dataset as read by the transition, so the move need not read it again)."""
    item: dict[str, Any] = {
        "op": "dataset", "move_id": new_id(), "uuid": uuid, "targets": [getattr(t, "value", t) for t in targets],
        "job_id": job_id, "actor": actor, "reason": reason, "error_message": error_message, "heal": heal,
    }
    if seen is not None:  # what the move needs of it: the status it writes conditionally on, the last move
        item["seen"] = {"uuid": uuid, "status": seen.get("status"), "status_move_id": seen.get("status_move_id")}
    return item


def job_item(doc: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """Insert the chained job ``doc`` (with its creation ``event``) unless it exists."""
    return {"op": "job", "doc": doc, "event": {**event, "job_id": doc["job_id"], "event_id": new_id()}}


def tally_item(before: dict[str, Any], after_completed_at: Any) -> dict[str, Any] | None:
    """Invalidate the day tallies (:mod:`sccli.monitor.tally`) a write may change: the days of the
    job's ``completed_at`` before and after; the run decides which are settled (stored) then."""
    days = sorted(
        {
            figures.day_of(e)
            for e in (to_epoch(before.get("completed_at")), to_epoch(after_completed_at))
            if e is not None
        }
    )
    return {"op": "tally", "days": days} if days else None


def _run_tally(store: Store, item: dict[str, Any]) -> None:
    # Settledness is judged when the item runs (after the job's write): a reader storing a day
    # that settled before this point read the job's write; one that settles later is not stored yet.
    now = to_epoch(store.now())
    settled = [int(d) for d in item.get("days") or [] if figures.settled(int(d), now)]  # type: ignore[arg-type]
    if settled:
        store.tallies.bump_tally_days(settled)


def claimed_item(lease_token: str, actor: str, worker: str, at: Any) -> dict[str, Any]:
    """The claim's follow-ups (its event, the dataset's move to its working status), written with
    the claim itself: the job it picks is known only when the item runs."""
    return {"op": "claimed", "lease_token": lease_token, "actor": actor, "worker": worker, "at": at}


def _claimed(item: dict[str, Any], job: dict[str, Any]) -> list[dict[str, Any]]:
    from sccli.domain import DATASET_STAGES

    lease = item["lease_token"]
    event = job_event(job["job_id"], JobStatus.PENDING, JobStatus.RUNNING, at=item["at"], actor=item["actor"],
                      reason=f"claimed by {item['worker']}", event_id=f"claim:{lease}")
    items = [{"op": "event", "event": event}]
    stages = DATASET_STAGES.get(job.get("job_type", ""))
    if stages is not None:
        move = dataset_item(
            job["dataset_uuid"], [stages.working], job_id=job["job_id"], actor=item["actor"], reason="job started"
        )
        items.append({**move, "move_id": f"claim:{lease}"})
    return items


# -- running them ---------------------------------------------------------------------------
def run_followups(store: Store, items: list[dict[str, Any]], job: dict[str, Any] | None = None) -> None:
    """Carry out ``items`` in order (``job``: the job they belong to); each is idempotent."""
    stage = None if job is None else job.get("status")
    for item in items:
        op = item.get("op")
        if op == "claimed" and job is not None:
            run_followups(store, _claimed(item, job), job)
        elif op == "event":
            store.insert_event(item["event"])
            crash_point("after_event", stage)
        elif op == "dataset":
            _run_dataset(store, item)
            crash_point("after_dataset", stage)
        elif op == "job":
            _run_job(store, item, stage)
            crash_point("after_child", stage)
        elif op == "tally":
            _run_tally(store, item)


def _run_dataset(store: Store, item: dict[str, Any]) -> None:
    from sccli.datasets import move_dataset

    move_dataset(
        store, item["uuid"], item["targets"], actor=item["actor"], reason=item["reason"], job_id=item.get("job_id"),
        error_message=item.get("error_message"), heal=bool(item.get("heal")), move_id=item["move_id"],
        seen=item.get("seen"),
    )


def _run_job(store: Store, item: dict[str, Any], stage: str | None = None) -> None:
    from sccli.errors import Conflict

    doc = item["doc"]
    if store.get_job(doc["job_id"]) is not None:
        # Created by an earlier run of this follow-up, which may have died before the job's
        # creation event: write it (at most once, by its event_id).
        store.insert_event(item["event"])
        return
    try:
        store.insert_job(doc)
    except Conflict as exc:
        if store.get_job(doc["job_id"]) is not None:
            store.insert_event(item["event"])
            return
        parent = doc.get("parent_job_id")
        store.insert_event(job_event(
            parent, None, JobStatus.PENDING, at=item["event"]["at"], actor=item["event"]["actor"],
            reason=f"chained {doc['job_type']} not created: {exc}", refused=True,
            event_id=item["event"]["event_id"] + ":refused",
        ))
        return
    crash_point("after_child_insert", stage)  # the chained job is written, its creation event not yet
    store.insert_event(item["event"])


# -- the outbox (stores without transactions) ------------------------------------------------
def outbox_batch(items: list[dict[str, Any]], at: Any) -> dict[str, Any]:
    """One transition's follow-ups as an outbox entry (appended with the transition's write)."""
    return {"id": new_id(), "at": at, "items": items}


def drain_outbox(store: Store, job: dict[str, Any], *, own: str | None = None) -> None:
    """Run every follow-up waiting in ``job``'s outbox, oldest first, and pull each batch off.
    ``own``: the id of the batch this writer just appended. Datasets as another writer saw them
    (a crash, an outage left its batch) are not trusted: one moved since and back would take the
    move again; they are read instead."""
    for batch in list(job.get("outbox") or []):
        items = batch.get("items") or []
        if batch.get("id") != own or own is None:
            items = [{k: v for k, v in item.items() if k != "seen"} for item in items]
        run_followups(store, items, job)
        store.update_job(job["job_id"], {}, JobChange(pull={"outbox": {"id": batch["id"]}}))


def drain_stale_outboxes(store: Store, older_than: Any, limit: int = 200) -> int:
    """The sweeper's part: finish follow-ups a crashed writer left (older than ``older_than``)."""
    if store.atomic_followups:
        return 0
    jobs = store.find_jobs(JobQuery(outbox_before=older_than), sort=(), limit=limit)
    for job in jobs:
        drain_outbox(store, job)
    return len(jobs)
