"""Migrated jobs carry what their handler declares and nothing it refuses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sccli.errors import InvalidInput
from sccli.handlers.specs import PARAMETERS, check_parameters
from sccli.migration import MIGRATION_TABLE
from sccli.migration.params import ParameterCheck
from sccli.migration.plan import PARAMETER_MAP
from sccli.store.base import JobQuery

from .conftest import Legacy, dataset_doc, settings_for


def test_every_parameter_the_migration_sets_is_declared() -> None:
    names = {"input_path", "output_path", *PARAMETER_MAP.values()}
    for job_type, _ in MIGRATION_TABLE.values():
        declared = {p.name for p in PARAMETERS[job_type]}
        assert names <= declared, f"{job_type} does not declare {sorted(names - declared)}"


def test_migrated_jobs_pass_their_handler_declaration(small_legacy: Legacy) -> None:
    report = small_legacy.migration().run()
    jobs = small_legacy.store.find_jobs(JobQuery(migration_id=report.migration_id), sort=())
    assert {j["job_type"] for j in jobs} == {t for t, _ in MIGRATION_TABLE.values()}
    for job in jobs:
        check_parameters(job["job_type"], job["parameters"], small_legacy.settings)  # raises when refused


@pytest.mark.parametrize("where", ["outside", "symlink_out"])
def test_upload_with_files_outside_the_data_directories_is_blocked(
    small_legacy: Legacy, tmp_path: Path, where: str
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    doc = dataset_doc(1, "upload queued")
    if where == "outside":
        doc["files"] = [str(outside / "data.bin")]
    else:  # a link inside in_data_dir that leads out of it
        link = Path(small_legacy.settings.in_data_dir) / "link-out"
        link.symlink_to(outside)
        doc["files"] = [str(link / "data.bin")]
    small_legacy.store.ledger.insert_datasets([doc])
    for dry_run in (True, False):
        (item,) = small_legacy.migration().run(dataset_uuid=doc["uuid"], dry_run=dry_run).items
        assert item.action == "skip" and item.job_id is None
        assert (
            item.problems
            and "outside the configured data directories" in item.problems[0]
            and "'files'" in item.problems[0]
        )
    assert small_legacy.store.count_jobs(JobQuery(dataset_uuid=doc["uuid"])) == 0
    (finding,) = [f for f in small_legacy.migration().validate() if f.dataset_uuid == doc["uuid"]]
    assert finding.check == "blocked" and "outside the configured data directories" in finding.message


def test_input_directory_linked_out_of_the_data_directories_is_blocked(small_legacy: Legacy, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    doc = dataset_doc(2, "conversion queued")
    (Path(small_legacy.settings.in_data_dir) / doc["uuid"]).symlink_to(outside)
    small_legacy.store.ledger.insert_datasets([doc])
    (item,) = small_legacy.migration().run(dataset_uuid=doc["uuid"]).items
    assert item.action == "skip" and "'input_path'" in item.problems[0] and "outside" in item.problems[0]


def test_parameter_check_agrees_with_the_handlers_declaration(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "in" / "out-link")
    os.symlink(tmp_path / "out", tmp_path / "in" / "in-link")
    check = ParameterCheck(settings)
    cases = [
        str(tmp_path / "in" / "a" / "b.bin"), str(tmp_path / "in"), str(tmp_path / "elsewhere" / "x"),
        str(tmp_path / "in" / ".." / "elsewhere"), str(tmp_path / "in" / "out-link"),
        str(tmp_path / "in" / "out-link" / "x"), str(tmp_path / "in" / "in-link" / "x"), "relative/x", "/etc/passwd",
    ]
    for path in cases:
        params = {"files": [path]}
        try:
            check_parameters("file_upload", params, settings)
            expected: list[str] = []
        except InvalidInput:
            expected = ["refused"]
        assert ["refused" for _ in check.problems("file_upload", params)] == expected, path
    assert check.problems("file_upload", {"nope": 1})[0].startswith("job refused: unknown parameter 'nope'")
    assert "must be a list" in check.problems("file_upload", {"files": 3})[0]


def test_parameters_checked_by_the_plan_must_still_be_storable() -> None:
    import uuid
    from datetime import datetime

    from sccli.queue import JobQueue
    from sccli.store import open_store

    queue = JobQueue(open_store("mongomock://params_checked"), actor="test")
    uid = str(uuid.uuid4())
    with pytest.raises(InvalidInput, match="JSON"):
        queue.build_job(
            uid, "dataset_conversion", {"input_path": datetime.now()}, None, None, None, declaration_checked=True
        )
    with pytest.raises(InvalidInput, match=r"\$"):
        queue.build_job(
            uid, "dataset_conversion", {"conversion_params": {"$where": "x"}}, None, None, None,
            declaration_checked=True,
        )
    doc = queue.build_job(uid, "dataset_conversion", {"anything": 1}, None, None, None, declaration_checked=True)
    assert doc["parameters"] == {"anything": 1}  # the declaration is the caller's to check
    with pytest.raises(InvalidInput, match="unknown parameter"):
        queue.build_job(uid, "dataset_conversion", {"anything": 1}, None, None, None)
