"""The day tallies equal a full recount after any history, on every backend.

A state machine creates, runs, fails (some as timeouts), cancels and retries jobs, lets the
store's clock run for hours or days (so days settle and get stored), deletes old jobs with the
cleanup, and after every step reads the figures both ways: from the tallies (stored settled
days + rows of the rest) and recounted from every job, by the store's own SQL/pipelines.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from sccli.domain import ErrorKind, JobStatus
from sccli.errors import Conflict
from sccli.figures import ENDED
from sccli.monitor import cleanup, tally
from sccli.queue import JobQueue
from sccli.store.base import JobQuery, Store
from tests.conftest import BACKENDS, StoreSpec, add_dataset, make_spec
from tests.core.test_queue_property import run_per_backend, wipe

TYPES = ["data_validation", "file_extraction", "google_sync"]
OUTCOMES = ["complete", "fail", "timeout", "permanent", "cancel"]
_COMMON: dict[str, Any] = {"deadline": None, "database": None, "suppress_health_check": [HealthCheck.too_slow]}
#: SQLite searches widest; the MongoDB backends run the same machine shorter (each step reads
#: every figure three ways, and the wire server scans a collection per query).
SETTINGS = {
    "sqlite": settings(max_examples=40, stateful_step_count=30, **_COMMON),
    "mongomock": settings(max_examples=8, stateful_step_count=20, **_COMMON),
    "wire": settings(max_examples=4, stateful_step_count=15, **_COMMON),
}
START = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
INDEX = st.integers(0, 255)


def counts(rows: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return sorted((r["status"], str(r["job_type"]), int(r["count"])) for r in rows if r["count"])


class TallyMachine(RuleBasedStateMachine):
    def __init__(self, spec: StoreSpec, store: Store | None = None) -> None:
        super().__init__()
        self.store = store or spec.open()
        if store is not None:
            wipe(store)
        self.store.ensure_schema()
        self.clock = START
        self.store.now = lambda: self.clock  # type: ignore[method-assign]
        self.queue = JobQueue(self.store, actor="cli:test@host", retry_base_seconds=0.0, retry_max_seconds=0.0)

    def jobs(self, *statuses: JobStatus) -> list[dict[str, Any]]:
        return self.store.find_jobs(
            JobQuery(status=[s.value for s in statuses]), sort=(("created_at", 1), ("job_id", 1))
        )

    @rule(
        job_type=st.sampled_from(TYPES), n=st.integers(1, 3), attempts=st.integers(1, 3),
        later=st.sampled_from([None, None, 3600.0, 90000.0]),
    )
    def create(self, job_type: str, n: int, attempts: int, later: float | None) -> None:
        for _ in range(n):
            self.queue.create_job(add_dataset(self.store), job_type, max_attempts=attempts, delay=later)

    @rule(outcome=st.sampled_from(OUTCOMES), seconds=st.floats(0.0, 5000.0))
    def run(self, outcome: str, seconds: float) -> None:
        job = self.queue.claim_next("w1")
        if job is None:
            return
        self.clock += timedelta(seconds=seconds)
        lease = job["lease_token"]
        if outcome == "complete":
            self.queue.complete(job["job_id"], lease, {"status": "ok"})
        elif outcome == "cancel":
            self.queue.cancel(job["job_id"], "enough")
            self.queue.mark_cancelled(job["job_id"], lease)
        else:
            kind = {"fail": ErrorKind.ERROR, "timeout": ErrorKind.TIMEOUT, "permanent": ErrorKind.PERMANENT}[outcome]
            self.queue.fail(job["job_id"], lease, f"{outcome} after {seconds:.0f}s", kind=kind)

    @rule(index=INDEX)
    def cancel_pending(self, index: int) -> None:
        pending = self.jobs(JobStatus.PENDING, JobStatus.SCHEDULED)
        if pending:
            self.queue.cancel(pending[index % len(pending)]["job_id"], "not needed")

    @rule(index=INDEX, later=st.sampled_from([0.0, 0.0, 7200.0]))
    def retry(self, index: int, later: float) -> None:
        ended = self.jobs(JobStatus.FAILED, JobStatus.CANCELLED)
        if ended:
            try:
                self.queue.retry(ended[index % len(ended)]["job_id"], delay_seconds=later)
            except Conflict:
                pass  # another active job of that dataset and type

    @rule()
    def retry_oldest(self) -> None:
        """The finished job most likely to sit in a settled, stored day."""
        ended = sorted(self.jobs(JobStatus.FAILED, JobStatus.CANCELLED), key=lambda j: j["completed_at"])
        if ended:
            try:
                self.queue.retry(ended[0]["job_id"])
            except Conflict:
                pass

    @rule(seconds=st.sampled_from([0.0, 600.0]))
    def backoff(self, seconds: float) -> None:
        """Failed attempts wait out a delay (scheduled) or are retried at once."""
        self.queue.lifecycle.retry_base_seconds = self.queue.lifecycle.retry_max_seconds = seconds

    @rule()
    def sweep(self) -> None:
        """A service's sweeper promotes the scheduled jobs whose time has come."""
        due = {j["job_id"] for j in self.jobs(JobStatus.SCHEDULED) if j["run_after"] <= self.clock}
        assert {j["job_id"] for j in self.queue.promote_due()} == due

    @rule(hours=st.sampled_from([0.5, 11.0, 25.0, 49.0, 73.0]))
    def wait(self, hours: float) -> None:
        self.clock += timedelta(hours=hours)

    @rule(days=st.integers(1, 2))
    def clean(self, days: int) -> None:
        cleanup.cleanup(self.store, self.clock, days)

    @rule(budget=st.sampled_from([0, 1, 100]))
    def prebuild(self, budget: int) -> None:
        """The service's tally duty in between: ``budget`` days at most (a clock ticking per day)."""
        ticks = iter(range(10_000))
        built, _left = tally.prebuild(self.store, float(budget), clock=lambda: float(next(ticks)))
        assert built <= budget

    @invariant()
    def tallies_equal_a_recount(self) -> None:
        store, now = self.store, self.clock
        assert counts(tally.status_type_counts(store)) == counts(store.stats.job_status_type_counts())
        for since in (now - timedelta(days=1), now - timedelta(days=3), START - timedelta(days=1)):
            self._window(since, now)
        cutoffs = cleanup.cleanup_cutoffs(now, 1)
        expected = {
            status: store.count_jobs(JobQuery(status=[status], completed_before=cutoff))
            for status, cutoff in cutoffs.items()
        }
        assert tally.ended_before(store, cutoffs) == expected

    def _window(self, since: datetime, until: datetime) -> None:
        mine = {r["job_type"]: r for r in tally.finished_stats(self.store, since, until)}
        recount = {
            t: f for t, f in tally.total(tally.window_figures(self.store, since, until, stored=False).values()).items()
        }
        theirs = {r["job_type"]: r for r in self.store.stats.finished_job_stats(since, until)}
        assert sorted(mine) == sorted(theirs) == sorted(recount)
        for job_type, row in mine.items():
            exact = theirs[job_type]
            for key in ("count", "completed", "failed", "cancelled", "retries", "timeouts"):
                assert row[key] == int(exact[key] or 0), (job_type, key, row, exact)
            for key in ("avg_duration", "min_duration", "max_duration", "p50_duration", "p95_duration"):
                if exact[key] is None:
                    assert row[key] is None, (job_type, key)
                else:  # percentiles from 1 % buckets; the rest exact up to float sums
                    assert row[key] == pytest.approx(exact[key], rel=0.005, abs=1e-6), (job_type, key, row, exact)
        daily = [
            (d["day"], d["completed"], d["failed"], d["cancelled"])
            for d in tally.finished_daily(self.store, since, until)
        ]
        theirs_daily = self.store.stats.finished_job_daily(since, until)
        assert daily == [(d["day"], d["completed"], d["failed"], d["cancelled"]) for d in theirs_daily]

    def teardown(self) -> None:
        if not hasattr(self.store, "coll"):
            self.store.close()


@pytest.mark.parametrize("kind", BACKENDS)
def test_tallies_equal_a_recount_after_any_history(kind: str, tmp_path: Path) -> None:
    run_per_backend(TallyMachine, kind, tmp_path, SETTINGS[kind])


def test_a_day_stored_then_changed_by_a_retry_is_read_again(tmp_path: Path) -> None:
    """The write-side rule on its own: a retry of a job of a stored day invalidates that day."""
    store = make_spec("sqlite", tmp_path).open()
    clock = [START]
    store.now = lambda: clock[0]  # type: ignore[method-assign]
    queue = JobQueue(store, actor="cli:test@host", retry_base_seconds=0.0, retry_max_seconds=0.0)
    job_id = queue.create_job(add_dataset(store), "data_validation", max_attempts=1)
    claimed = queue.claim_next("w1")
    assert claimed is not None
    queue.fail(job_id, claimed["lease_token"], "broken", kind=ErrorKind.PERMANENT)
    clock[0] += timedelta(days=3)
    window = (START - timedelta(days=1), clock[0])
    assert [(r["job_type"], r["failed"]) for r in tally.finished_stats(store, *window)] == [("data_validation", 1)]
    day = int(START.timestamp() // 86_400)
    assert store.tallies.tally_days([day])[day]["figures"] is not None  # the settled day was stored
    queue.retry(job_id)
    assert store.tallies.tally_days([day])[day]["figures"] is None  # invalidated in the retry's own write
    assert tally.finished_stats(store, *window) == []
    assert [(r["status"], r["count"]) for r in tally.status_type_counts(store)] == [(JobStatus.PENDING.value, 1)]
    assert set(ENDED) == {JobStatus.COMPLETED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value}


def test_prebuild_stores_the_missing_days_so_the_first_read_folds_none(tmp_path: Path) -> None:
    """After a bulk load nothing is stored; the background build stores every settled day within
    its budget, newest first, and says how many are left; then a report computes no day itself."""
    store = make_spec("sqlite", tmp_path).open()
    clock = [START]
    store.now = lambda: clock[0]  # type: ignore[method-assign]
    queue = JobQueue(store, actor="cli:test@host", retry_base_seconds=0.0, retry_max_seconds=0.0)
    for _ in range(4):  # a job ended on each of four days
        job_id = queue.create_job(add_dataset(store), "data_validation", max_attempts=1)
        claimed = queue.claim_next("w1")
        assert claimed is not None
        queue.complete(job_id, claimed["lease_token"], {})
        clock[0] += timedelta(days=1)
    clock[0] += timedelta(days=1)
    first = int(START.timestamp() // 86_400)
    days = list(range(first, first + 5))
    held = store.tallies.tally_days(days)
    assert all(held[d]["figures"] is None for d in days if d in held)
    ticks = iter(range(100))
    assert tally.prebuild(store, 3.0, clock=lambda: float(next(ticks))) == (2, 3)  # the budget ran out
    stored = store.tallies.tally_days(days)
    assert [d for d in days if d in stored and stored[d]["figures"] is not None] == days[3:]  # newest first
    assert tally.prebuild(store, 60.0) == (3, 0)
    assert tally.prebuild(store, 60.0) == (0, 0)
    saved: list[int] = []
    real = store.tallies.save_tally_day
    store.tallies.save_tally_day = lambda day, *a: saved.append(day) or real(day, *a)  # type: ignore[method-assign]
    window = (START - timedelta(days=1), clock[0])
    assert [(r["job_type"], r["completed"]) for r in tally.finished_stats(store, *window)] == [("data_validation", 4)]
    assert saved == []  # every settled day of the window was read, none folded on this read
