"""sc migrate run: plan, create, idempotence, single datasets, problems, conflicts."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest

from sccli.errors import InvalidInput, NotFound
from sccli.migration import MIGRATION_TABLE
from sccli.migration import run as run_module
from sccli.store.base import JobQuery

from .conftest import Legacy, dataset_doc


def _snapshot(legacy: Legacy) -> tuple[int, dict[str, int], int]:
    store = legacy.store
    return store.count_jobs(JobQuery()), store.ledger.count_datasets_by_status(), len(store.ledger.list_migrations())


def test_dry_run_then_run_then_rerun_on_the_legacy_store(legacy: Legacy) -> None:
    """The whole story on thousands of legacy datasets: plan, create, ledger, idempotence, validate."""
    store = legacy.store
    before = _snapshot(legacy)
    plan = legacy.migration().run(dry_run=True)
    assert _snapshot(legacy) == before, "a dry run wrote something"
    assert sorted(i.dataset_uuid for i in plan.items if i.action == "create") == legacy.needing_jobs()
    skipped = {i.dataset_uuid: i for i in plan.items if i.action == "skip"}
    assert set(skipped) == set(legacy.existing_jobs) | set(legacy.left_blocked())
    assert sorted(u for u, i in skipped.items() if i.problems) == legacy.left_blocked(), (
        "a blocked dataset is not listed with its problems"
    )
    assert plan.not_migrated == {s: len(u) for s, u in legacy.by_status.items() if s not in MIGRATION_TABLE}

    report = legacy.migration(grace_seconds=900).run()
    _check_jobs(legacy, report.migration_id, grace=900)
    assert store.ledger.count_datasets_by_status() == before[1], "a run moved dataset statuses"
    _check_ledger(legacy, report)

    count = store.count_jobs(JobQuery())
    again = legacy.migration().run()
    assert again.created == 0 and store.count_jobs(JobQuery()) == count
    assert again.skipped == again.examined == report.examined
    findings = legacy.migration().validate()
    assert {(f.check, f.dataset_uuid) for f in findings} == {("blocked", u) for u in legacy.left_blocked()}


def _check_jobs(legacy: Legacy, migration_id: str, grace: float) -> None:
    jobs = legacy.store.find_jobs(JobQuery(migration_id=migration_id), sort=())
    assert sorted(j["dataset_uuid"] for j in jobs) == legacy.needing_jobs()
    for job in jobs:
        status = legacy.status_of[job["dataset_uuid"]]
        assert (job["job_type"], job["priority"]) == MIGRATION_TABLE[status]
        assert job["created_by"] == f"migration:{migration_id}" and job["status"] == "pending"
        delay = job["run_after"] - job["created_at"]
        assert delay == (timedelta(seconds=grace) if status in ("syncing", "converting", "uploading") else timedelta(0))
    assert legacy.store.count_jobs(JobQuery()) == len(jobs) + len(legacy.existing_jobs)


def _check_ledger(legacy: Legacy, report: Any) -> None:
    header = legacy.store.ledger.get_migration(report.migration_id)
    assert header is not None and header["status"] == "completed" and header["jobs_created"] == report.created
    entries = legacy.store.ledger.find_migration_entries(report.migration_id)
    jobs = {j["job_id"]: j for j in legacy.store.find_jobs(JobQuery(migration_id=report.migration_id), sort=())}
    assert len(entries) == report.created == len(jobs)
    for entry in entries:
        assert entry["status_before"] == legacy.status_of[entry["dataset_uuid"]]
        assert jobs[entry["job_id"]]["dataset_uuid"] == entry["dataset_uuid"]


def test_creation_is_logged_with_the_migration_actor(small_legacy: Legacy) -> None:
    report = small_legacy.migration().run()
    job_id = next(i.job_id for i in report.items if i.job_id)
    events = small_legacy.store.find_events(job_id)
    assert [(e["from"], e["to"], e["actor"]) for e in events] == [(None, "pending", f"migration:{report.migration_id}")]


def test_parameters_come_from_the_dataset_and_data_directories(small_legacy: Legacy) -> None:
    report = small_legacy.migration().run()
    settings = small_legacy.settings
    for job in small_legacy.store.find_jobs(JobQuery(migration_id=report.migration_id), sort=()):
        dataset = small_legacy.store.get_dataset(job["dataset_uuid"])
        assert dataset is not None
        expected = {
            "input_path": os.path.join(settings.in_data_dir, dataset["uuid"]),
            "output_path": os.path.join(settings.out_data_dir, dataset["uuid"]),
        }
        pairs = (
            ("user", "user_email"), ("google_drive_link", "data_url"), ("sensor", "sensor_type"),
            ("conversion_parameters", "conversion_params"), ("files", "files"),
        )
        for source, target in pairs:
            if source in dataset:
                expected[target] = dataset[source]
        assert job["parameters"] == expected


def test_problems_are_named(small_legacy: Legacy) -> None:
    report = small_legacy.migration().run(dry_run=True)
    by_uuid = {i.dataset_uuid: i for i in report.items}
    for uid, item in by_uuid.items():
        if item.action != "create" and not item.problems:
            continue
        if item.job_type == "google_sync":
            assert (uid in small_legacy.no_link) == any("google_drive_link" in p for p in item.problems)
        else:
            assert (uid in small_legacy.no_input) == any("input directory" in p for p in item.problems)
            assert (uid in small_legacy.no_archive) == any("no archive to unzip" in p for p in item.problems)
    assert report.with_problems == sum(1 for i in report.items if i.problems) > 0
    assert all(i.action == "skip" for i in report.items if i.problems)


def test_upload_datasets_without_files_are_listed_and_not_given_a_job(small_legacy: Legacy) -> None:
    uploads = [d for d in small_legacy.store.find_datasets(statuses=["upload queued", "uploading"])]
    assert uploads
    dry = small_legacy.migration().run(dry_run=True)
    listed = {i.dataset_uuid: i for i in dry.items if i.job_type == "file_upload"}
    assert all(
        any("no files to upload" in p for p in listed[d["uuid"]].problems) for d in uploads if not d.get("files")
    )
    report = small_legacy.migration().run()
    created = small_legacy.store.find_jobs(
        JobQuery(job_type=["file_upload"], migration_id=report.migration_id), limit=None
    )
    assert {j["dataset_uuid"] for j in created} == {d["uuid"] for d in uploads if d.get("files")}


def test_problem_datasets_are_left_without_a_job(small_legacy: Legacy) -> None:
    report = small_legacy.migration().run()
    skipped = {i.dataset_uuid for i in report.items if i.problems}
    assert skipped and all(i.action == "skip" for i in report.items if i.problems)
    assert not small_legacy.store.find_jobs(JobQuery(dataset_uuids=sorted(skipped), migration_id=report.migration_id))


def test_unmounted_data_directory_is_one_note_not_a_problem_per_dataset(small_legacy: Legacy, tmp_path: object) -> None:
    small_legacy.settings.in_data_dir = "/nonexistent/sccli-test"
    report = small_legacy.migration().run(dry_run=True)
    assert len(report.notes) == 1 and "not a directory on this host" in report.notes[0]
    assert not any("input directory" in p for i in report.items for p in i.problems)


def test_single_dataset_run(small_legacy: Legacy) -> None:
    target = next(u for u in small_legacy.by_status["uploading"] if u in small_legacy.needing_jobs())
    report = small_legacy.migration().run(dataset_uuid=target)
    jobs = small_legacy.store.find_jobs(JobQuery(migration_id=report.migration_id))
    assert [(j["dataset_uuid"], j["job_type"], j["priority"]) for j in jobs] == [(target, "file_upload", 1)]
    again = small_legacy.migration().run(dataset_uuid=target)
    assert again.created == 0 and again.items[0].reason == "already has an active file_upload job"


def test_single_blocked_upload_dataset_is_listed_and_skipped(small_legacy: Legacy) -> None:
    target = next(u for u in small_legacy.by_status["upload queued"] if u in small_legacy.left_blocked())
    for dry_run in (True, False):
        report = small_legacy.migration().run(dataset_uuid=target, dry_run=dry_run)
        (item,) = report.items
        assert (item.action, item.job_type, item.job_id) == ("skip", "file_upload", None)
        assert item.problems == ["no files to upload (the dataset names none in its 'files' field)"]
        assert (item.reason or "").startswith("not migrated, its job could not succeed: no files to upload")
        assert report.created == 0 and report.with_problems == 1
    assert small_legacy.store.count_jobs(JobQuery(dataset_uuid=target)) == 0
    assert small_legacy.store.ledger.find_migration_entries(dataset_uuid=target) == []


def test_single_dataset_that_needs_no_job(small_legacy: Legacy) -> None:
    done = small_legacy.by_status["done"][0]
    report = small_legacy.migration().run(dataset_uuid=done)
    assert report.created == 0 and report.items[0].reason == "status 'done' needs no job"
    retrying = small_legacy.by_status["retrying"][0]
    assert "not migrated" in (small_legacy.migration().run(dataset_uuid=retrying, dry_run=True).items[0].reason or "")


def test_single_dataset_refusals(small_legacy: Legacy) -> None:
    with pytest.raises(NotFound):
        small_legacy.migration().run(dataset_uuid="00000000-0000-4000-8000-000000000000")
    with pytest.raises(InvalidInput):
        small_legacy.migration().run(dataset_uuid="not-a-uuid")
    with pytest.raises(InvalidInput):
        small_legacy.migration(grace_seconds=-1).run()


def test_malformed_legacy_uuid_is_skipped_not_fatal(small_legacy: Legacy) -> None:
    doc = dataset_doc(1, "conversion queued") | {"uuid": "legacy-0001"}
    small_legacy.store.ledger.insert_datasets([doc])
    report = small_legacy.migration().run()
    item = next(i for i in report.items if i.dataset_uuid == "legacy-0001")
    assert item.action == "skip" and "malformed uuid" in (item.reason or "")
    assert report.created == len(small_legacy.needing_jobs())


def test_job_that_appears_while_migrating_is_not_duplicated(
    small_legacy: Legacy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The planner is made blind to existing jobs: the batched write must still refuse duplicates.
    monkeypatch.setattr(run_module, "active_stage_types", lambda store, uuids: {})
    report = small_legacy.migration().run()
    # Blocked datasets are skipped before any write, whatever jobs they have.
    assert sorted(report.conflicts) == sorted(set(small_legacy.existing_jobs) - small_legacy.blocked())
    assert report.conflicts
    for uid in small_legacy.existing_jobs:
        assert small_legacy.store.count_jobs(JobQuery(dataset_uuid=uid)) == 1
    assert len(small_legacy.store.ledger.find_migration_entries(report.migration_id)) == report.created


def test_progress_is_reported_per_page(small_legacy: Legacy) -> None:
    calls: list[tuple[int, int]] = []
    small_legacy.migration(batch_size=7).run(dry_run=True, progress=lambda done, total: calls.append((done, total)))
    total = sum(len(u) for s, u in small_legacy.by_status.items() if s in MIGRATION_TABLE)
    assert calls[-1] == (total, total) and len(calls) == -(-total // 7)


def test_large_runs_can_keep_only_the_items_that_need_attention(small_legacy: Legacy) -> None:
    plan = small_legacy.migration().run(dry_run=True)
    report = small_legacy.migration().run(detail=False)
    assert report.created == len(small_legacy.needing_jobs())
    assert report.items and all(i.needs_attention for i in report.items)
    assert {i.dataset_uuid for i in report.items} == {i.dataset_uuid for i in plan.items if i.needs_attention}


def test_dataset_fields_that_are_not_json_are_reported_in_the_plan(small_legacy: Legacy) -> None:
    from datetime import datetime

    doc = dataset_doc(5, "conversion queued") | {"conversion_parameters": {"since": datetime(2020, 1, 1)}}
    small_legacy.store.ledger.insert_datasets([doc])
    for dry_run in (True, False):
        item = next(i for i in small_legacy.migration().run(dry_run=dry_run).items if i.dataset_uuid == doc["uuid"])
        assert item.action == "skip" and "'conversion_params' is not JSON" in (item.reason or "")
