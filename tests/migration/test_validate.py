"""sc migrate validate: silent on a good migration, precise on a broken one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sccli.migration.validate import Finding, dataset_findings
from sccli.queue import JobQueue
from sccli.store.base import Store
from tests.backdoor import backdoor

from .conftest import Legacy, dataset_doc


def _job(store: Store, dataset_uuid: str, job_type: str, **kwargs: Any) -> str:
    doc = JobQueue(store, actor="cli:test@host").build_job(dataset_uuid, job_type, {}, None, None, None, **kwargs)
    store.insert_job(doc)
    return str(doc["job_id"])


def _dataset(store: Store, status: str) -> str:
    doc = dataset_doc(0, status)
    store.ledger.insert_datasets([doc])
    return str(doc["uuid"])


def _found(findings: list[Finding]) -> set[tuple[str, str | None, str | None]]:
    return {(f.check, f.dataset_uuid, f.job_id) for f in findings}


def test_legacy_store_before_migration_lists_every_dataset_without_a_job(small_legacy: Legacy) -> None:
    findings = small_legacy.migration().validate()
    missing = {("missing_job", u, None) for u in small_legacy.needing_jobs()}
    blocked = {("blocked", u, None) for u in small_legacy.left_blocked()}
    assert missing and blocked and _found(findings) == missing | blocked
    assert all("run sc migrate run" in f.message for f in findings)


def test_blocked_finding_names_the_problem_until_the_dataset_is_fixed(small_legacy: Legacy) -> None:
    store = small_legacy.store
    small_legacy.migration().run()
    target = next(u for u in small_legacy.by_status["upload queued"] if u in small_legacy.left_blocked())
    (finding,) = [f for f in small_legacy.migration().validate() if f.dataset_uuid == target]
    assert (
        finding.check == "blocked"
        and "no files to upload" in finding.message
        and "no file_upload job" in finding.message
    )
    files = [str(Path(small_legacy.settings.in_data_dir) / target / "data.bin")]
    assert store.update_dataset(target, "upload queued", {"files": files})
    (finding,) = [f for f in small_legacy.migration().validate() if f.dataset_uuid == target]
    assert finding.check == "missing_job"  # fixed: the next run gives it its job
    assert small_legacy.migration().run(dataset_uuid=target).created == 1
    assert [f for f in small_legacy.migration().validate() if f.dataset_uuid == target] == []


def test_broken_store_gives_one_precise_finding_per_problem(small_legacy: Legacy) -> None:
    store = small_legacy.store
    small_legacy.migration().run()
    blocked = {("blocked", u, None) for u in small_legacy.left_blocked()}
    assert _found(small_legacy.migration().validate()) == blocked
    missing = _dataset(store, "conversion queued")
    Path(small_legacy.settings.in_data_dir, missing).mkdir()
    duplicated = _dataset(store, "sync queued")
    first = _job(store, duplicated, "google_sync")
    second = _job(store, duplicated, "google_sync", allow_duplicate=True)
    orphan_uuid = "11111111-2222-4333-8444-555555555555"
    orphan = _job(store, orphan_uuid, "backup_creation")
    done = _dataset(store, "done")
    stray = _job(store, done, "dataset_conversion")
    wrong_type = _dataset(store, "zipping")
    wrong = _job(store, wrong_type, "google_sync")
    findings = small_legacy.migration().validate()
    assert _found(findings) - blocked == {
        ("missing_job", missing, None),
        ("duplicate_jobs", duplicated, None),
        ("orphan_job", orphan_uuid, orphan),
        ("state_mismatch", done, stray),
        ("state_mismatch", wrong_type, wrong),
    }
    messages = {f.check: f.message for f in findings if f.check != "blocked"}
    assert (
        first in messages["duplicate_jobs"]
        and second in messages["duplicate_jobs"]
        and "2 active jobs" in messages["duplicate_jobs"]
    )
    assert "does not exist" in messages["orphan_job"]


@pytest.mark.parametrize(
    ("status", "job_type", "job_status", "agrees"),
    [
        # migrated in-flight dataset, waiting out the grace period
        ("converting", "dataset_conversion", "pending", True),
        ("converting", "dataset_conversion", "running", True),
        ("conversion queued", "dataset_conversion", "running", False),  # the claim did not move the dataset
        ("uploading", "file_extraction", "pending", False),
        ("submitted", "file_extraction", "pending", True),  # extraction has no queued status to wait in
        ("done", "data_compression", "running", False),
        ("conversion error", "dataset_conversion", "pending", False),
        ("failed", "rsync_transfer", "pending", True),  # types that leave statuses alone are not compared
    ],
)
def test_dataset_and_job_states_agree(status: str, job_type: str, job_status: str, agrees: bool) -> None:
    dataset = {"uuid": "u-1", "status": status}
    jobs = [{"job_id": "j-1", "job_type": job_type, "status": job_status}] if job_type != "rsync_transfer" else []
    findings = dataset_findings(dataset, jobs)
    assert (findings == []) is agrees, findings


def test_missing_index_is_a_finding(store: Store) -> None:
    expected = store.ledger.expected_index_names()
    actual = store.index_names()
    assert all(set(names) <= set(actual[key]) for key, names in expected.items())
    name = backdoor(store).drop_claim_index()
    from sccli.migration import JobMigration

    findings = JobMigration(store).validate()
    assert [(f.check, f.message.split(" (")[0]) for f in findings] == [
        ("missing_index", f"jobs: index {name} is missing")
    ]
