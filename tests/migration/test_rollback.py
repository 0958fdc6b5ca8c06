"""sc migrate rollback: removes only unstarted migrated jobs, restores statuses, reports the rest."""

from __future__ import annotations

import pytest

from sccli.clock import utcnow
from sccli.errors import InvalidInput, NotFound
from sccli.store.base import JobChange, JobQuery, Store

from .conftest import Legacy


def _statuses(legacy: Legacy) -> dict[str, str]:
    return {d["uuid"]: d["status"] for d in legacy.store.find_datasets()}


def _start(store: Store, job_id: str, then: str | None) -> dict:
    """Claim a job as a worker would (and optionally finish it or put it back for a retry)."""
    job = store.update_job(
        job_id, {"status": "pending"},
        JobChange(set={"status": "running", "lease_token": "t", "started_at": utcnow()}, inc={"attempts": 1}),
    )
    assert job is not None
    if then is not None:
        job = store.update_job(
            job_id, {"status": "running"},
            JobChange(set={"status": then}, unset=["active_key"] if then == "completed" else ()),
        )
    assert job is not None
    return job


def test_rollback_restores_every_status_and_leaves_started_jobs_alone(legacy: Legacy) -> None:
    store = legacy.store
    report = legacy.migration(grace_seconds=0).run()
    # The new service starts some jobs: one runs, one finished, one failed an attempt and waits to retry.
    migrated = [i for i in report.items if i.job_id]
    running, finished, retried = (
        _start(store, migrated[n].job_id or "", then) for n, then in ((0, None), (1, "completed"), (2, "pending"))
    )
    started = {running["job_id"], finished["job_id"], retried["job_id"]}
    # Meanwhile the old service moved a dataset whose job has not started.
    moved = next(i for i in report.items if i.job_id and i.status == "conversion queued" and i.job_id not in started)
    store.update_dataset(moved.dataset_uuid, None, {"status": "converting"})

    result = legacy.migration().rollback()

    assert result.removed == report.created - 3
    left = {j["job_id"] for j in store.find_jobs(JobQuery(migration_id=report.migration_id), sort=())}
    assert left == started
    assert {n["job_id"] for n in result.not_undone} == started
    assert all("has started" in n["reason"] for n in result.not_undone)
    statuses = _statuses(legacy)
    for uid, before in legacy.status_of.items():
        if uid not in {running["dataset_uuid"], finished["dataset_uuid"], retried["dataset_uuid"]}:
            assert statuses[uid] == before, uid
    assert result.restored == 1
    for job_id in legacy.existing_jobs.values():
        assert store.get_job(job_id) is not None, "a job the migration did not create was removed"
    header = store.ledger.get_migration(report.migration_id)
    assert header is not None and header["status"] == "partially rolled back"

    again = legacy.migration().rollback()
    assert again.removed == 0 and {n["job_id"] for n in again.not_undone} == started


def test_finished_datasets_are_never_reset(small_legacy: Legacy) -> None:
    report = small_legacy.migration().run()
    item = next(i for i in report.items if i.job_id and i.status == "converting")
    small_legacy.store.update_dataset(item.dataset_uuid, None, {"status": "done"})
    result = small_legacy.migration().rollback(migration_id=report.migration_id)
    assert small_legacy.store.get_dataset(item.dataset_uuid)["status"] == "done"  # type: ignore[index]
    assert [n["reason"] for n in result.not_undone] == ["dataset is 'done' now: not reset to 'converting'"]
    assert small_legacy.store.get_job(item.job_id or "") is None


def test_restored_status_is_logged_with_the_migration_actor(small_legacy: Legacy) -> None:
    store = small_legacy.store
    report = small_legacy.migration().run()
    item = next(i for i in report.items if i.job_id and i.status == "upload queued")
    store.update_dataset(item.dataset_uuid, None, {"status": "uploading"})
    small_legacy.migration().rollback(dataset_uuid=item.dataset_uuid)
    assert store.get_dataset(item.dataset_uuid)["status"] == "upload queued"  # type: ignore[index]
    # The removed job's creation event went with it; the restore is logged under the removed job's id.
    events = store.find_events(item.job_id or "")
    assert [(e["entity"], e["from"], e["to"], e["actor"]) for e in events] == [
        ("dataset", "uploading", "upload queued", f"migration:{report.migration_id}")
    ]
    # Written by move_dataset as an administrative exit from the transition table.
    assert events[0]["reason"] == f"rollback of migration {report.migration_id} (removed job {item.job_id}) (forced)"
    assert events[0]["dataset_uuid"] == item.dataset_uuid


def test_restore_goes_through_move_dataset_forced(small_legacy: Legacy, monkeypatch: pytest.MonkeyPatch) -> None:
    import sccli.datasets

    calls: list[tuple[str, str, dict]] = []
    real = sccli.datasets.move_dataset

    def spy(store: Store, uuid: str, target: str, **kwargs: object) -> bool:
        calls.append((uuid, target, dict(kwargs)))
        return real(store, uuid, target, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sccli.datasets, "move_dataset", spy)
    report = small_legacy.migration().run()
    item = next(i for i in report.items if i.job_id and i.status == "conversion queued")
    small_legacy.store.update_dataset(item.dataset_uuid, None, {"status": "converting"})
    small_legacy.migration().rollback(dataset_uuid=item.dataset_uuid)
    assert [(u, t, k["force"], k["job_id"], k["actor"]) for u, t, k in calls] == [
        (item.dataset_uuid, "conversion queued", True, item.job_id, f"migration:{report.migration_id}")
    ]


def test_rollback_scopes(small_legacy: Legacy) -> None:
    store = small_legacy.store
    first = small_legacy.migration().run()
    one = next(i for i in first.items if i.job_id)
    small_legacy.migration().rollback(dataset_uuid=one.dataset_uuid)
    assert store.get_job(one.job_id or "") is None
    assert store.count_jobs(JobQuery(migration_id=first.migration_id)) == first.created - 1
    second = small_legacy.migration().run()
    assert second.created == 1
    result = small_legacy.migration().rollback(migration_id=second.migration_id)
    assert result.removed == 1 and result.migrations == {second.migration_id}
    assert store.count_jobs(JobQuery(migration_id=first.migration_id)) == first.created - 1
    assert store.ledger.get_migration(second.migration_id)["status"] == "rolled back"  # type: ignore[index]


def test_dry_run_rollback_writes_nothing(small_legacy: Legacy) -> None:
    store = small_legacy.store
    report = small_legacy.migration().run()
    def state() -> tuple:
        entries = store.ledger.find_migration_entries(report.migration_id)
        return store.count_jobs(JobQuery()), _statuses(small_legacy), entries

    before = state()
    plan = small_legacy.migration().rollback(dry_run=True)
    assert plan.removed == report.created
    assert state() == before


def test_rollback_refusals(small_legacy: Legacy) -> None:
    with pytest.raises(NotFound):
        small_legacy.migration().rollback(migration_id="mig-20200101T000000-abcdef")
    with pytest.raises(InvalidInput):
        small_legacy.migration().rollback(dataset_uuid="nope")


def test_job_gone_is_not_an_error(small_legacy: Legacy) -> None:
    report = small_legacy.migration().run()
    item = next(i for i in report.items if i.job_id)
    small_legacy.store.delete_jobs(JobQuery(job_ids=[item.job_id or ""]))
    result = small_legacy.migration().rollback()
    assert result.already_gone == 1 and result.removed == report.created - 1 and result.not_undone == []


def test_a_batch_that_fails_midway_is_undone_whole_on_sqlite(
    small_legacy: Legacy, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = small_legacy.store
    report = small_legacy.migration(grace_seconds=0).run()
    created = store.count_jobs(JobQuery(migration_id=report.migration_id))
    assert created > 0

    def lost(entry_ids: object, fields: object) -> int:  # the store fails after the jobs' deletion
        raise RuntimeError("disk gone")

    monkeypatch.setattr(store.ledger, "update_migration_entries", lost)
    with pytest.raises(RuntimeError):
        small_legacy.migration().rollback()
    monkeypatch.undo()
    left = store.count_jobs(JobQuery(migration_id=report.migration_id))
    if store.atomic_followups:  # one transaction: nothing of the batch happened
        assert left == created
    again = small_legacy.migration().rollback()  # a rerun finishes the work either way
    assert store.count_jobs(JobQuery(migration_id=report.migration_id)) == 0
    assert again.removed == left and again.removed + again.already_gone == created
