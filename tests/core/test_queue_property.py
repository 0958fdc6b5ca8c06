"""A property-based state machine over the queue, on every backend: random creates (at once or
scheduled), claims, heartbeats, completions, failures (with or without a backoff), cancels,
retries (at once or later), stale recoveries, drains, pauses, promotions of due scheduled jobs,
run-nows and dataset moves; after every step the store's history must explain its state."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from sccli import domain
from sccli.datasets import move_dataset, set_dataset_status
from sccli.domain import DatasetStatus, ErrorKind, JobStatus
from sccli.errors import Conflict, NotFound
from sccli.pause import pause_types, resume_types
from sccli.queue import JobQueue
from sccli.store.base import JobChange, JobQuery, Store
from tests.conftest import BACKENDS, StoreSpec, _drop, add_dataset, make_spec
from tests.service.consistency import job_history_problems

CHAINED = ["google_sync", "file_upload", "file_extraction", "dataset_conversion", "data_compression"]
TYPES = [*CHAINED, "data_validation"]
ACTOR = "cli:test@host"
STARTS = [
    DatasetStatus.SUBMITTED, DatasetStatus.SUBMITTED, DatasetStatus.DONE, DatasetStatus.FAILED,
    DatasetStatus.UPLOAD_QUEUED,
]

SETTINGS = settings(
    max_examples=40, stateful_step_count=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def all_events(store: Store) -> list[dict[str, Any]]:
    """Every recorded event in write order (the Store API reads them per job only)."""
    if hasattr(store, "coll"):
        from sccli.store.mongo_support import normalize

        return [normalize(d) for d in store.coll("events").find({}).sort([("at", 1), ("_id", 1)])]
    from sccli.store import codec

    return [codec.loads(r[0]) for r in store._read(f"SELECT doc FROM {store.names['events']} ORDER BY at ASC, id ASC")]  # type: ignore[attr-defined]


class EventsByJob:
    """One read of every event, answering ``find_events`` per job (the wire backend would
    otherwise pay a round trip per job per step)."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.by_job: dict[str | None, list[dict[str, Any]]] = {}
        for event in events:
            self.by_job.setdefault(event.get("job_id"), []).append(event)

    def find_events(self, job_id: str) -> list[dict[str, Any]]:
        return self.by_job.get(job_id, [])


def wipe(store: Store) -> None:
    """Empty a MongoDB store for the next run, keeping its indexes (creating them costs the
    wire backend more than a whole run)."""
    for key in store.names:  # type: ignore[attr-defined]
        store.coll(key).delete_many({})  # type: ignore[attr-defined]


#: Which item a rule picks, drawn as a rule argument whatever the state: what a run draws must
#: not depend on the store (job ids are random, so which job a claim takes can differ between
#: replays), hence no preconditions and no draws inside the rules.
INDEX = st.integers(0, 255)


def pick(items: list[Any], index: int) -> Any:
    """``items[index]`` modulo their number; None when there are none."""
    return items[index % len(items)] if items else None


class QueueMachine(RuleBasedStateMachine):
    """The queue driven at random; the model keeps only what the store cannot tell (leases held,
    jobs created with allow_duplicate, what each completion should have chained)."""

    def __init__(self, spec: StoreSpec, store: Store | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.shared = store is not None
        self.store = store or spec.open()
        if store is None:
            self.store.ensure_schema()
        self.queue = JobQueue(self.store, actor=ACTOR, retry_base_seconds=0.0, retry_max_seconds=0.0)
        self.datasets: dict[str, str] = {}  # uuid → status it was created with
        self.leases: dict[str, str] = {}  # running job → the lease its claim returned
        self.lost: list[tuple[str, str]] = []  # (job, lease) no longer held
        self.duplicates: set[str] = set()
        self.children: dict[str, str | None] = {}  # completed job → the type it should chain
        self.paused: set[str] = set()
        self.backoff = False  # failed attempts wait out a delay (scheduled) or retry at once (pending)

    def teardown(self) -> None:
        if self.shared:
            wipe(self.store)
        else:
            _drop(self.spec, self.store)

    # -- helpers ----------------------------------------------------------------------------
    def job(self, job_id: str) -> dict[str, Any]:
        doc = self.store.get_job(job_id)
        assert doc is not None
        return doc

    def jobs(self) -> list[dict[str, Any]]:
        return self.store.find_jobs(JobQuery(), sort=(("created_at", 1),), limit=None)

    def drop_lease(self, job_id: str) -> None:
        lease = self.leases.pop(job_id, None)
        if lease is not None:
            self.lost.append((job_id, lease))

    def pick_running(self, index: int) -> tuple[str, str] | None:
        job_id = pick(list(self.leases), index)
        return None if job_id is None else (job_id, self.leases[job_id])

    # -- datasets and jobs ------------------------------------------------------------------
    @initialize(
        converts=st.lists(st.booleans(), min_size=1, max_size=3),
        types=st.lists(st.sampled_from(TYPES), min_size=1, max_size=5),
    )
    def seed(self, converts: list[bool], types: list[str]) -> None:
        """Start every run with datasets and jobs, so short runs reach the interesting moves."""
        for convert in converts:
            self.new_dataset(DatasetStatus.SUBMITTED, convert)
        for number, job_type in enumerate(types):
            ds = list(self.datasets)[number % len(self.datasets)]
            try:
                self.queue.create_job(ds, job_type)
            except Conflict:
                pass

    @rule(status=st.sampled_from(STARTS), convert=st.booleans())
    def new_dataset(self, status: DatasetStatus, convert: bool) -> None:
        self.datasets[add_dataset(self.store, status.value, convert=convert)] = status.value

    @rule(
        index=INDEX, job_type=st.sampled_from(TYPES), duplicate=st.sampled_from([False, False, False, True]),
        attempts=st.sampled_from([None, 1]), later=st.sampled_from([None, None, 0.0, -60.0, 3600.0]),
    )
    def create(self, index: int, job_type: str, duplicate: bool, attempts: int | None, later: float | None) -> None:
        ds = pick(list(self.datasets), index)
        key = domain.active_key(ds, job_type)
        holder = [j for j in self.jobs() if j.get("active_key") == key]
        run_at = None if later is None else self.store.now() + timedelta(seconds=later)
        try:
            job_id = self.queue.create_job(
                ds, job_type, max_attempts=attempts, allow_duplicate=duplicate, run_at=run_at
            )
        except Conflict:
            assert holder and not duplicate, "create refused without a job holding its key"
            return
        assert duplicate or not holder, f"created a second active {job_type} for {ds}"
        if duplicate:
            self.duplicates.add(job_id)
        assert self.job(job_id)["status"] == (JobStatus.SCHEDULED if later and later > 0 else JobStatus.PENDING)

    # -- claims and running jobs ------------------------------------------------------------
    @rule(types=st.none() | st.lists(st.sampled_from(TYPES), min_size=1, max_size=3, unique=True))
    def claim(self, types: list[str] | None) -> None:
        job = self.queue.claim_next("w1", types=types)
        if job is None:
            now = self.store.now()
            ready = [
                j
                for j in self.jobs()
                if j["status"] == JobStatus.PENDING
                and j["run_after"] <= now
                and (types is None or j["job_type"] in types)
                and j["job_type"] not in self.paused
                and "*" not in self.paused
            ]
            assert not ready, f"nothing claimed while {[j['job_id'] for j in ready]} were ready"
            return
        assert job["job_type"] not in self.paused and "*" not in self.paused, f"claimed paused type {job['job_type']}"
        assert types is None or job["job_type"] in types
        assert job["status"] == JobStatus.RUNNING and job["lease_token"]
        self.leases[job["job_id"]] = job["lease_token"]

    @rule(index=INDEX, right=st.booleans())
    def heartbeat(self, index: int, right: bool) -> None:
        running = self.pick_running(index)
        if right and running:
            assert self.queue.heartbeat(*running, progress=50.0)
            return
        held = pick(self.lost, index) or (running and (running[0], uuid.uuid4().hex))
        if not held:
            return
        before = self.job(held[0])
        assert not self.queue.heartbeat(*held, progress=10.0), "a heartbeat with a lease not held was accepted"
        assert self.job(held[0]).get("heartbeat_at") == before.get("heartbeat_at")

    @rule(archives=st.booleans(), outcome=st.sampled_from(["complete", "complete", "error", "permanent", "keep"]))
    def work(self, archives: bool, outcome: str) -> None:
        """A service's round: claim the next job and end its attempt (so chains get far)."""
        job = self.queue.claim_next("w2")
        if job is None:
            return
        assert job["job_type"] not in self.paused and "*" not in self.paused, f"claimed paused type {job['job_type']}"
        self.leases[job["job_id"]] = job["lease_token"]
        if outcome == "complete":
            self.finish(job["job_id"], job["lease_token"], archives)
        elif outcome != "keep":
            self.fail_job(job["job_id"], job["lease_token"], outcome == "permanent")

    @rule(index=INDEX, archives=st.booleans(), wrong=st.sampled_from([False, False, True]))
    def complete(self, index: int, archives: bool, wrong: bool) -> None:
        running = self.pick_running(index)
        if running is None:
            return
        job_id, lease = running
        if wrong:
            assert self.queue.complete(job_id, uuid.uuid4().hex, {"status": "ok"}) is None
            assert self.job(job_id)["status"] == JobStatus.RUNNING
            return
        self.finish(job_id, lease, archives)

    def finish(self, job_id: str, lease: str, archives: bool) -> None:
        job = self.job(job_id)
        result: dict[str, Any] = {"status": "ok"}
        if archives and job["job_type"] == "file_upload":
            result["archives"] = ["/data/in/a.zip"]
        chained = domain.next_stage(job["job_type"], result, self.store.get_dataset(job["dataset_uuid"]))[1]
        done = self.queue.complete(job_id, lease, result)
        assert done is not None and done["status"] == JobStatus.COMPLETED
        self.children[job_id] = chained
        self.drop_lease(job_id)

    @rule(index=INDEX, permanent=st.booleans())
    def fail(self, index: int, permanent: bool) -> None:
        running = self.pick_running(index)
        if running is not None:
            self.fail_job(*running, permanent)

    def fail_job(self, job_id: str, lease: str, permanent: bool) -> None:
        job = self.job(job_id)
        kind = ErrorKind.PERMANENT if permanent else ErrorKind.ERROR
        done = self.queue.fail(job_id, lease, "boom", kind=kind)
        assert done is not None
        retried = not permanent and job["attempts"] < job["max_attempts"]
        waits = JobStatus.SCHEDULED if self.backoff else JobStatus.PENDING
        assert done["status"] == (waits if retried else JobStatus.FAILED)
        assert done["errors"][-1]["kind"] == kind.value
        self.drop_lease(job_id)

    @rule(index=INDEX)
    def release(self, index: int) -> None:
        running = self.pick_running(index)
        if running is None:
            return
        job_id, lease = running
        attempts = self.job(job_id)["attempts"]
        done = self.queue.release(job_id, lease)
        assert done is not None and done["status"] == JobStatus.PENDING and done["attempts"] == attempts - 1
        self.drop_lease(job_id)

    @rule(index=INDEX)
    def go_stale(self, index: int) -> None:
        running = self.pick_running(index)
        if running is None:
            return
        job_id = running[0]
        old = self.store.now() - timedelta(hours=1)
        assert self.store.update_job(job_id, {"status": "running"}, JobChange(set={"heartbeat_at": old})) is not None
        recovered = self.queue.requeue_stale(60.0)
        assert [j["job_id"] for j in recovered] == [job_id]
        assert recovered[0]["status"] in (
            (JobStatus.SCHEDULED if self.backoff else JobStatus.PENDING),
            JobStatus.FAILED,
        )
        self.drop_lease(job_id)

    # -- administrators ---------------------------------------------------------------------
    @rule(index=INDEX, unknown=st.sampled_from([False, False, False, True]), stop=st.booleans())
    def cancel(self, index: int, unknown: bool, stop: bool) -> None:
        job_id = pick([j["job_id"] for j in self.jobs()], index)
        if unknown or job_id is None:
            with pytest.raises(NotFound):
                self.queue.cancel(str(uuid.uuid4()))
            return
        status = self.job(job_id)["status"]
        if status not in domain.ACTIVE_STATUSES:
            with pytest.raises(Conflict):
                self.queue.cancel(job_id, "not wanted")
            return
        done = self.queue.cancel(job_id, "not wanted")
        if status in (JobStatus.PENDING, JobStatus.SCHEDULED):
            assert done["status"] == JobStatus.CANCELLED
            return
        assert done["status"] == JobStatus.RUNNING and done["cancel_requested"]
        if stop:  # the service running it stops it
            stopped = self.queue.mark_cancelled(job_id, self.leases[job_id])
            assert stopped is not None and stopped["status"] == JobStatus.CANCELLED
            self.drop_lease(job_id)

    @rule(index=INDEX, later=st.sampled_from([0.0, 0.0, 3600.0]))
    def retry(self, index: int, later: float) -> None:
        job_id = pick([j["job_id"] for j in self.jobs()], index)
        if job_id is None:
            return
        job = self.job(job_id)
        if job["status"] not in (JobStatus.FAILED, JobStatus.CANCELLED):
            with pytest.raises(Conflict):
                self.queue.retry(job_id, delay_seconds=later)
            return
        key = domain.active_key(job["dataset_uuid"], job["job_type"])
        try:
            done = self.queue.retry(job_id, actor="cli:admin@host", delay_seconds=later)
        except Conflict:
            # an active job holds the key (see test_retried_duplicate_keeps_its_exemption)
            assert any(j.get("active_key") == key for j in self.jobs()), "retry refused without a job holding its key"
            assert self.job(job_id)["status"] == job["status"]
            return
        assert done["status"] == (JobStatus.SCHEDULED if later else JobStatus.PENDING) and done["attempts"] == 0

    # -- time -------------------------------------------------------------------------------
    @rule(on=st.booleans())
    def set_backoff(self, on: bool) -> None:
        self.backoff = on
        self.queue.lifecycle.retry_base_seconds = self.queue.lifecycle.retry_max_seconds = 600.0 if on else 0.0

    @rule(index=INDEX, everything=st.booleans())
    def time_passes(self, index: int, everything: bool) -> None:
        """The clock reaches one (or every) scheduled job's start: the sweeper promotes exactly the due ones."""
        scheduled = [j for j in self.jobs() if j["status"] == JobStatus.SCHEDULED]
        now = self.store.now()
        for job in scheduled if everything else [pick(scheduled, index)] if scheduled else []:
            moved = self.store.update_job(
                job["job_id"], {"status": "scheduled"}, JobChange(set={"run_after": now - timedelta(seconds=1)})
            )
            assert moved is not None
        due = {
            j["job_id"]
            for j in self.jobs()
            if j["status"] == JobStatus.SCHEDULED and j["run_after"] <= self.store.now()
        }
        promoted = self.queue.promote_due()
        assert {j["job_id"] for j in promoted} == due
        assert all(j["status"] == JobStatus.PENDING for j in promoted)
        assert self.queue.promote_due() == [], "a second pass promoted again"

    @rule(index=INDEX)
    def run_now(self, index: int) -> None:
        job_id = pick([j["job_id"] for j in self.jobs()], index)
        if job_id is None:
            return
        if self.job(job_id)["status"] != JobStatus.SCHEDULED:
            with pytest.raises(Conflict):
                self.queue.run_now(job_id)
            return
        assert self.queue.run_now(job_id)["status"] == JobStatus.PENDING

    @rule(job_type=st.sampled_from([*TYPES, "*"]), pause=st.booleans())
    def pause(self, job_type: str, pause: bool) -> None:
        if pause:
            pause_types(self.store, [job_type], "maintenance", ACTOR)
            self.paused.add(job_type)
        else:
            resume_types(self.store, [job_type], ACTOR)
            self.paused.discard(job_type)

    @rule(index=INDEX, status=st.sampled_from(list(DatasetStatus)), how=st.sampled_from(["move", "set", "force"]))
    def move(self, index: int, status: DatasetStatus, how: str) -> None:
        ds = pick(list(self.datasets), index)
        if ds is None:
            return
        before = self.store.get_dataset(ds)["status"]  # type: ignore[index]
        allowed = before == status or domain.dataset_transition_allowed(before, status)
        if how == "move":
            assert move_dataset(self.store, ds, status, actor="cli:admin@host", reason="by hand") == allowed
            return
        try:
            after = set_dataset_status(
                self.store, ds, status.value, reason="repair", actor="cli:admin@host", force=how == "force"
            )
        except Conflict:
            assert how == "set" and not allowed
            return
        assert after["status"] == status and (how == "force" or allowed)

    # -- invariants -------------------------------------------------------------------------
    @invariant()
    def history_explains_state(self) -> None:
        jobs = self.jobs()
        by_id = {j["job_id"]: j for j in jobs}
        events = all_events(self.store)
        history = EventsByJob(events)
        problems = [p for j in jobs for p in job_history_problems(history, j)]  # type: ignore[arg-type]
        assert not problems, problems
        # Only a deferred batch (no ``at``: run, waiting for the job's next transition to replace it)
        # may stay, and only on a job that will be written again; what it holds is in the history above.
        kept = [j["job_id"] for j in jobs for b in j.get("outbox") or []
                if "at" in b or j["status"] not in domain.ACTIVE_STATUSES]
        assert not kept, f"a job kept an outbox batch: {kept}"
        active: dict[str, list[str]] = {}
        for j in jobs:
            if j["status"] in domain.ACTIVE_STATUSES and j["job_id"] not in self.duplicates:
                active.setdefault(domain.active_key(j["dataset_uuid"], j["job_type"]), []).append(j["job_id"])
        assert all(len(ids) == 1 for ids in active.values()), active
        waiting = [j for j in jobs if j["status"] == JobStatus.SCHEDULED]
        assert all(j.get("active_key") or j["job_id"] in self.duplicates for j in waiting), (
            "a scheduled job lost its active key"
        )
        for parent, child_type in self.children.items():
            kids = [j for j in jobs if j.get("parent_job_id") == parent]
            if child_type is None:
                assert not kids, f"{by_id[parent]['job_type']} {parent} chained {kids}"
                continue
            refused = [
                e for e in history.find_events(parent) if e.get("refused") and "not created" in e.get("reason", "")
            ]
            assert len(kids) == 1 or (not kids and refused), f"{parent} should chain one {child_type}: {kids}"
            assert all(k["job_type"] == child_type for k in kids)
        self.check_datasets(events)

    def check_datasets(self, events: list[dict[str, Any]]) -> None:
        at = dict(self.datasets)
        for event in events:
            if event.get("entity") == "job":
                assert (
                    event.get("refused")
                    or event.get("from") == event.get("to")
                    or domain.job_transition_allowed(event.get("from"), event["to"])
                ), event
            if event.get("entity") != "dataset" or event.get("refused"):
                continue
            reason = event.get("reason", "")
            if "(forced)" not in reason and "(healed)" not in reason:
                assert domain.dataset_transition_allowed(event.get("from"), event["to"]), (
                    f"dataset move outside the table: {event}"
                )
            uuid_ = event["dataset_uuid"]
            assert event.get("from") == at[uuid_], (
                f"dataset {uuid_} moved from {event.get('from')} while at {at[uuid_]}"
            )
            at[uuid_] = event["to"]
        stored = {d["uuid"]: d["status"] for d in self.store.find_datasets()}
        assert stored == at, f"dataset statuses {stored} but their events end at {at}"


@pytest.mark.parametrize("kind", BACKENDS)
def test_queue_state_machine(kind: str, tmp_path: Path) -> None:
    run_per_backend(QueueMachine, kind, tmp_path, SETTINGS)


def run_per_backend(machine: Any, kind: str, tmp_path: Path, run_settings: Any) -> None:
    """Run a state machine ``machine(spec, store=None)`` on one backend: on SQLite each run gets a
    fresh file; on MongoDB the runs share one store (the machine wipes it), dropped at the end."""
    spec = make_spec(kind, tmp_path)  # skips the wire backend when no server is configured
    if kind == "sqlite":
        counter = iter(range(10**6))

        def fresh() -> Any:
            folder = tmp_path / f"run{next(counter)}"
            folder.mkdir()
            return machine(make_spec(kind, folder))

        run_state_machine_as_test(fresh, settings=run_settings)
        return
    store = spec.open()
    store.ensure_schema()
    try:
        run_state_machine_as_test(lambda: machine(spec, store), settings=run_settings)
    finally:
        _drop(spec, store)


def test_a_retried_duplicate_needs_the_flag_again(queue: JobQueue, store: Store) -> None:
    """Found by the state machine: the duplicate flag was read from the job, which never stored
    it. Now it is the administrator's word at each step, as at creation."""
    ds = add_dataset(store)
    queue.create_job(ds, "dataset_conversion")
    duplicate = queue.create_job(ds, "dataset_conversion", allow_duplicate=True)
    queue.cancel(duplicate, "not yet")
    with pytest.raises(Conflict, match="active job already exists"):
        queue.retry(duplicate)
    retried = queue.retry(duplicate, allow_duplicate=True)
    assert retried["status"] == JobStatus.PENDING and not retried.get("active_key")
