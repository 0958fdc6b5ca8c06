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
from sccli.domain import ACTIVE_STATUSES, JobStatus
from sccli.events import job_event
from sccli.store.base import JobChange, JobQuery, OutboxIs, Store

#: Namespace of the ids of chained jobs: uuid5(parent job id + child type).
CHAIN_NAMESPACE = uuidlib.UUID("6f1c2c56-3b7e-4c83-9a55-2f0b1b7d8e11")

_CRASH_AT = os.environ.get("SC_TEST_CRASH_AT", "")


def crash_point(name: str, stage: str | None = None) -> None:
    """Test hook: SIGKILL this process at the named point (``after_job_write``, ``after_event``,
    ``after_dataset``, ``after_child``, ``after_ack_deferred``; optionally ``:<job status>`` of the transition) when
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
    settled = [int(d) for d in item.get("days") or [] if figures.settled(int(d), now)]
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
    """Carry out ``items`` in order (``job``: the job they belong to); each is idempotent. The
    job's own events wait for the next write of an event (a dataset move's, a chained job's, or
    one write of them all at the end): one round trip where the store can insert several."""
    stage = None if job is None else job.get("status")
    events: list[dict[str, Any]] = []
    for item in _expanded(items, job):
        op = item.get("op")
        if op == "event":
            events.append(item["event"])
        elif op == "dataset":
            waiting = bool(events)
            _run_dataset(store, item, events)
            if waiting and not events:  # written with the move's own events
                crash_point("after_event", stage)
            crash_point("after_dataset", stage)
        elif op == "job":
            _flush(store, events, stage)  # a chained job comes after its parent's events, as before
            _run_job(store, item, stage)
            crash_point("after_child", stage)
        elif op == "tally":
            _run_tally(store, item)
    _flush(store, events, stage)


def _expanded(items: list[dict[str, Any]], job: dict[str, Any] | None) -> list[dict[str, Any]]:
    """``items`` with a claim's item replaced by what it entails for ``job``."""
    out: list[dict[str, Any]] = []
    for item in items:
        if item.get("op") == "claimed":  # a replayed claim's move is a replay too
            entailed = _claimed(item, job) if job is not None else []
            out += [{**i, "replay": True} if item.get("replay") else i for i in entailed]
        else:
            out.append(item)
    return out


def _flush(store: Store, events: list[dict[str, Any]], stage: str | None) -> None:
    if events:
        store.insert_events(list(events))
        events.clear()
        crash_point("after_event", stage)


def _run_dataset(store: Store, item: dict[str, Any], events: list[dict[str, Any]]) -> None:
    from sccli.datasets import move_dataset

    move_dataset(
        store, item["uuid"], item["targets"], actor=item["actor"], reason=item["reason"], job_id=item.get("job_id"),
        error_message=item.get("error_message"), heal=bool(item.get("heal")), move_id=item["move_id"],
        seen=item.get("seen"), with_events=events, replay=bool(item.get("replay")),
    )


def _run_job(store: Store, item: dict[str, Any], stage: str | None = None) -> None:
    from sccli.errors import Conflict

    doc = item["doc"]
    try:  # no read first: the job_id index (or the store's own check) refuses a second one
        store.insert_job(doc)
    except Conflict as exc:
        if store.get_job(doc["job_id"]) is not None:
            # Created by an earlier run of this follow-up, which may have died before the job's
            # creation event: write it (at most once, by its event_id).
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
def outbox_batch(items: list[dict[str, Any]], at: Any, *, deferred: bool = False) -> dict[str, Any]:
    """One transition's follow-ups as an outbox entry (appended with the transition's write).

    ``deferred``: a batch of a job that is sure to be written again (a claim's: its holder's
    outcome or the stale recovery; a new job's events: its claim, cancel or promotion). It has
    no ``at``, so no sweeper replays it and no pull takes it off: the job's next transition
    replaces it (:func:`drain_outbox`, :meth:`sccli.lifecycle.JobLifecycle.write`), running it
    again first unless its writer's copy says it ran."""
    batch: dict[str, Any] = {"id": new_id(), "items": items}
    if not deferred:
        batch["at"] = at
    return batch


class OutboxAcks:
    """A service's outbox batches of events alone: run at once, then left on their jobs for one
    pull of many (a service flushes them with every heartbeat, well within the sweeper's
    ``stale_after_seconds``; one never flushed is replayed by a sweeper, which writes nothing
    twice). Each carries the current ``ack`` token, which the pull matches by equality."""

    def __init__(self) -> None:
        self.token = new_id()
        self.jobs: list[str] = []

    def mark(self, batch: dict[str, Any]) -> dict[str, Any]:
        """``batch``, to be pulled by :meth:`flush` when it holds events alone (a replay of a dataset
        move or a chained job could act twice: those are pulled at once)."""
        if _replayable(batch):
            batch["ack"] = self.token
        return batch

    def flush(self, store: Store) -> None:
        """Take every waiting batch off its job in one write (:meth:`Store.pull_outbox`)."""
        if self.jobs:
            jobs, token = self.jobs, self.token
            self.jobs, self.token = [], new_id()
            store.pull_outbox(jobs, token)


def write_outbox(store: Store, job_id: str, expect: dict[str, Any], change: JobChange, batch: dict[str, Any],
                 held: list[dict[str, Any]] | None, acks: OutboxAcks | None = None,
                 ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """A transition's write carrying its outbox ``batch``; the job after it and the batches it took
    off. ``held``: the outbox as the writer's copy of the job has it: replaced by ``batch``, fenced
    on it (:class:`OutboxIs`), so those batches need no pull of their own; appended when the copy
    has none or the outbox changed since (a sweeper's replay). ``acks``: marks ``batch`` for its pull."""
    if acks is not None:
        acks.mark(batch)
    if isinstance(held, list):
        fenced = {**expect, "outbox": OutboxIs(tuple(str(b.get("id")) for b in held))}
        replacing = JobChange({**change.set, "outbox": [batch]}, change.unset, change.inc, change.push, change.pull)
        doc = store.update_job(job_id, fenced, replacing)
        if doc is not None:
            return doc, held
    change.push["outbox"] = batch
    return store.update_job(job_id, expect, change), []


def drain_outbox(store: Store, job: dict[str, Any], *, own: str | None = None,
                 dropped: list[dict[str, Any]] | tuple[()] = (),
                 acks: OutboxAcks | None = None) -> list[dict[str, Any]]:
    """Run every follow-up waiting in ``job``'s outbox (as stored after the write), oldest first,
    and pull off the batches a sweeper would otherwise replay (those with an ``at``) in one
    write; return the outbox as it is left, each batch marked ``ran`` (the copy a next write
    may replace, :class:`sccli.store.base.OutboxIs`).

    ``own``: the id of the batch this writer just appended. ``dropped``: batches the write took
    off (it replaced the outbox) that still need running. A batch already marked ``ran`` in the
    writer's copy is not run again. Left on a job that will be written again: the writer's own
    deferred batch and deferred batches of events alone (a replay of those writes nothing);
    ``acks``: a batch it marked is left for its pull of many. Every other batch is pulled.
    Datasets as another writer saw them (a crash, an outage left its batch) are not trusted: one
    moved since and back would take the move again; they are read instead."""
    stored = list(job.get("outbox") or [])
    items: list[dict[str, Any]] = []
    for batch in [*dropped, *stored]:
        if batch.get("ran"):
            continue
        mine = own is not None and batch.get("id") == own
        items += [item if mine else _replay(item) for item in batch.get("items") or []]
    run_followups(store, items, job)
    active = job.get("status") in {s.value for s in ACTIVE_STATUSES}
    kept = [b for b in stored if acks is not None and b.get("ack") == acks.token
            or active and "at" not in b and (b.get("id") == own or _replayable(b))]
    if acks is not None and any(b.get("ack") == acks.token for b in kept):
        acks.jobs.append(job["job_id"])
        crash_point("after_ack_deferred", job.get("status"))  # run, its pull left to the next heartbeat
    for batch in stored:
        if batch not in kept:
            store.update_job(job["job_id"], {}, JobChange(pull={"outbox": {"id": batch["id"]}}))
    return [{**b, "ran": True} for b in kept]


def _replay(item: dict[str, Any]) -> dict[str, Any]:
    """Another writer's item: its dataset copy not trusted, its move not decided twice."""
    return {**{k: v for k, v in item.items() if k != "seen"}, "replay": True}


def _replayable(batch: dict[str, Any]) -> bool:
    """Events and tally marks only: run again, they change nothing (no dataset move, no job)."""
    return all(item.get("op") in ("event", "tally") for item in batch.get("items") or [])


def drain_stale_outboxes(store: Store, older_than: Any, limit: int = 200) -> int:
    """The sweeper's part: finish follow-ups a crashed writer left (older than ``older_than``)."""
    if store.atomic_followups:
        return 0
    jobs = store.find_jobs(JobQuery(outbox_before=older_than), sort=(), limit=limit)
    for job in jobs:
        drain_outbox(store, {**job, "outbox": [b for b in job.get("outbox") or [] if "at" in b]})
    return len(jobs)
