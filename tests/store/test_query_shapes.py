"""Every query the MongoDB store sends is a registered shape, and every registered shape is
served by an index (the equality-sort-range rule): neither mongomock nor the wire server has a
query planner, so this is the guard against a new query without an index."""

from __future__ import annotations

from typing import Any

import pytest

from sccli.store.mongo import MongoStore
from sccli.store.mongo_support import expected_index_keys
from sccli.store.query_shapes import SCANS, SHAPES, SMALL_COLLECTIONS, QueryShape, served_by, shape, unserved

_FILTERED = {
    "find": 0, "find_one": 0, "find_one_and_update": 0, "count_documents": 0, "update_one": 0, "update_many": 0,
    "delete_one": 0, "delete_many": 0, "replace_one": 0,
}


class Recording:
    """A collection that records the shape of every filter sent through it."""

    def __init__(self, key: str, inner: Any, seen: set[QueryShape]) -> None:
        self._key, self._inner, self._seen = key, inner, seen

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name == "aggregate":
            def aggregate(pipeline: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
                first = pipeline[0].get("$match") if pipeline else None
                self._seen.add(shape(self._key, first or {}))
                return attr(pipeline, *args, **kwargs)
            return aggregate
        if name in _FILTERED:
            def call(filt: Any = None, *args: Any, **kwargs: Any) -> Any:
                result = attr(filt, *args, **kwargs)
                sort = kwargs.get("sort")
                if name == "find":
                    return RecordingCursor(self._key, filt, result, self._seen)
                self._seen.add(shape(self._key, filt, sort))
                return result
            return call
        return attr


class RecordingCursor:
    def __init__(self, key: str, filt: Any, cursor: Any, seen: set[QueryShape]) -> None:
        self._key, self._filt, self._cursor, self._seen, self._sort = key, filt, cursor, seen, None

    def sort(self, spec: Any, *args: Any) -> RecordingCursor:
        self._sort = spec
        self._cursor = self._cursor.sort(spec, *args)
        return self

    def skip(self, n: int) -> RecordingCursor:
        self._cursor = self._cursor.skip(n)
        return self

    def limit(self, n: int) -> RecordingCursor:
        self._cursor = self._cursor.limit(n)
        return self

    def __iter__(self) -> Any:
        self._seen.add(shape(self._key, self._filt, self._sort))
        return iter(self._cursor)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> set[QueryShape]:
    seen: set[QueryShape] = set()
    real = MongoStore.coll

    def coll(self: MongoStore, key: str) -> Any:
        return Recording(key, real(self, key), seen)

    monkeypatch.setattr(MongoStore, "coll", coll)
    return seen


def test_every_registered_shape_is_served_by_an_index() -> None:
    assert unserved(SHAPES, expected_index_keys()) == []


def test_the_rule_refuses_a_query_without_an_index() -> None:
    indexes = expected_index_keys()
    assert unserved([QueryShape("jobs", frozenset({"progress_message"}))], indexes)
    assert unserved([QueryShape("jobs", frozenset({"status"}), ("progress_percentage",))], indexes)
    assert not served_by(
        QueryShape("jobs", frozenset({"status"}), ("priority", "created_at")),
        ("status", "priority", "run_after", "created_at"),
    )


def _workload(tmp_path: Any) -> None:
    from datetime import timedelta

    from sccli.clock import utcnow
    from sccli.explain import explain_job
    from sccli.migration import JobMigration
    from sccli.monitor import JobMonitor
    from sccli.pause import pause_types, resume_types
    from sccli.queue import JobQueue
    from sccli.settings import Settings
    from sccli.store import open_store
    from sccli.store.base import JobQuery
    from tests.conftest import add_dataset

    store = open_store(f"mongomock://shapes_{id(tmp_path)}", "shapes")
    queue = JobQueue(store, actor="cli:test@host", retry_base_seconds=0, retry_max_seconds=0)
    jobs = []
    for job_type in ("dataset_conversion", "google_sync", "file_upload", "data_validation"):
        ds = add_dataset(store, sensor="TIFF")
        jobs.append(queue.create_job(ds, job_type))
    a = queue.claim_next("w1")
    b = queue.claim_next("w1", types=["google_sync"])
    c = queue.claim_next("w1", types=["file_upload", "data_validation"])
    assert a and b and c
    queue.heartbeat(a["job_id"], a["lease_token"], 50, "half")
    queue.complete(a["job_id"], a["lease_token"], {"status": "ok"})
    queue.fail(b["job_id"], b["lease_token"], "network down")
    queue.cancel(c["job_id"])
    pause_types(store, ["google_sync"], "maintenance", "cli:test@host")
    queue.claim_next("w1")
    resume_types(store, None, "cli:test@host")
    for job_id in jobs:
        explain_job(store, queue.require_job(job_id))
    store.find_events(jobs[0])
    store.delete_events_before(utcnow() - timedelta(days=1), 10)
    from sccli.jobids import job_detail

    job_detail(store, jobs[0][:8], 60.0)  # a job id typed as a prefix
    ds = jobs and queue.require_job(jobs[0])["dataset_uuid"]
    for query in (
        JobQuery(), JobQuery(status=["pending"]), JobQuery(job_type=["google_sync"]),
        JobQuery(status=["failed"], job_type=["google_sync"]), JobQuery(dataset_uuid=ds),
        JobQuery(dataset_uuid=ds, status=["pending"]),
    ):
        queue.list_jobs(query)
        store.count_jobs(query)
    from sccli.job_delete import deletable_job, delete_job
    from sccli.job_search import JobSearch, parse_param_filter, search_jobs

    lz4 = [parse_param_filter("format=lz4")]
    for search in (
        JobSearch(user="u@x"), JobSearch(dataset_name="test"), JobSearch(user="u@x", dataset_name="t", params=lz4),
        JobSearch(JobQuery(status=["failed"]), dataset_name="test"), JobSearch(params=lz4),
    ):
        search_jobs(store, search)
    delete_job(store, Settings(log_dir=str(tmp_path)), deletable_job(store, a["job_id"]), "cli:test@host")
    queue.sweep(60, starvation_minutes=1)
    _scheduled_workload(queue)
    settings = Settings(
        in_data_dir=str(tmp_path), out_data_dir=str(tmp_path), sync_data_dir=str(tmp_path), auth_dir=str(tmp_path)
    )
    monitor = JobMonitor(store, settings=settings, queue=queue)
    monitor.get_queue_overview()
    monitor.get_performance_report(7)
    monitor.get_failed_jobs(24)
    monitor.get_failure_groups(24)
    monitor.get_stale_jobs()
    monitor.get_performance_metrics()
    monitor.cleanup_old_data(30, dry_run=True)
    monitor.cleanup_old_data(30)
    add_dataset(store, status="conversion queued")
    migration = JobMigration(store, settings=settings, actor="cli:test@host")
    migration.run(dry_run=True)
    migration.run()
    migration.validate()
    migration.rollback()
    store.stats.finished_job_ids("completed", utcnow() + timedelta(days=1), 10)
    _schedule_workload(queue)


def _schedule_workload(queue: Any) -> None:
    from datetime import timedelta

    from sccli.schedule_firing import ScheduleFirer
    from sccli.schedules import (
        ScheduleSpec,
        add_schedule,
        describe,
        list_schedules,
        remove_schedule,
        schedule_fires,
        set_paused,
    )

    store = queue.store
    doc = add_schedule(queue, ScheduleSpec(name="shapes", job_type="data_validation", cron="*/5 * * * *"), actor="t")
    firer = ScheduleFirer(queue, actor="t")
    firer.fire_due(doc["next_run_at"] + timedelta(seconds=1))
    firer.run_now("shapes")
    set_paused(store, "shapes", True, actor="t")
    set_paused(store, "shapes", False, actor="t")
    [describe(store, d) for d in list_schedules(store)]
    schedule_fires(store, doc)
    store.schedules.update(doc["schedule_id"], {"name": "shapes2"})
    remove_schedule(store, "shapes2")


def _scheduled_workload(queue: Any) -> None:
    """Scheduled jobs: created later, promoted by the sweep, run now, retried later."""
    from datetime import timedelta

    from sccli.store.base import JobChange
    from tests.conftest import add_dataset

    store = queue.store
    later = store.now() + timedelta(hours=1)
    due, other = (queue.create_job(add_dataset(store), "data_validation", run_at=later) for _ in range(2))
    store.update_job(due, {"status": "scheduled"}, JobChange(set={"run_after": store.now() - timedelta(seconds=1)}))
    assert [j["job_id"] for j in queue.sweep(60)["promoted"]] == [due]
    queue.run_now(other)
    job = queue.claim_next("w1", types=["data_validation"])
    queue.fail(job["job_id"], job["lease_token"], "bad", kind="permanent")
    queue.retry(job["job_id"], delay_seconds=3600)


def test_the_promotion_query_is_sent_and_served(recorded: set[QueryShape], tmp_path: Any) -> None:
    """The sweeper's promotion reads scheduled jobs by start time through its own index, never
    the claim's (which would walk every scheduled job)."""
    _workload(tmp_path)
    promotion = QueryShape("jobs", frozenset({"status"}), ("run_after",), frozenset({"run_after"}))
    assert promotion in recorded
    assert ("status", "run_after") in expected_index_keys()["jobs"]
    assert not unserved([promotion], expected_index_keys())


def test_every_query_the_store_sends_is_registered(recorded: set[QueryShape], tmp_path: Any) -> None:
    _workload(tmp_path)
    registered = {*SHAPES, *SCANS}
    unknown = sorted(s.describe() for s in recorded if s not in registered and s.collection not in SMALL_COLLECTIONS)
    assert unknown == [], (
        "add these shapes to sccli/store/query_shapes.py SHAPES (with an index that serves them):\n"
        + "\n".join(unknown)
    )
    assert len(recorded) > 20
