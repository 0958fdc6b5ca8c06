"""The pure rules: tables, transitions, priorities, backoff, chaining."""

from __future__ import annotations

import pytest

from sccli import domain


def test_seventeen_dataset_statuses_all_in_the_transition_table() -> None:
    statuses = {s.value for s in domain.DatasetStatus}
    assert len(statuses) == 17
    assert set(domain.DATASET_TRANSITIONS) == statuses
    assert all(targets <= statuses for targets in domain.DATASET_TRANSITIONS.values())
    # amended: compressing a finished dataset
    assert domain.DATASET_TRANSITIONS[domain.DatasetStatus.DONE] == {domain.DatasetStatus.ZIPPING}
    assert domain.DATASET_TRANSITIONS[domain.DatasetStatus.FAILED] == frozenset()


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        ("submitted", "sync queued", True), ("submitted", "unzipping", True), ("done", "zipping", True),
        ("failed", "conversion queued", False), ("uploading", "unzipping", True), ("unzip error", "unzipping", True),
        ("done", "conversion queued", False), (None, "sync queued", False), ("retrying", "upload queued", True),
        ("converting", "conversion queued", False),
    ],
)
def test_dataset_transitions(current: str | None, target: str, allowed: bool) -> None:
    assert domain.dataset_transition_allowed(current, target) is allowed


def test_job_transitions() -> None:
    assert domain.job_transition_allowed("pending", "running")
    assert domain.job_transition_allowed("running", "pending")
    assert domain.job_transition_allowed("failed", "pending")
    assert not domain.job_transition_allowed("completed", "pending")
    assert not domain.job_transition_allowed("pending", "completed")


def test_job_type_table_matches_the_contract() -> None:
    c = domain.JOB_TYPE_CONFIGS
    assert len(c) == 8
    assert (
        c["dataset_conversion"].timeout_minutes, c["dataset_conversion"].max_attempts, c["dataset_conversion"].priority,
    ) == (120, 2, 1)
    assert c["google_sync"].requires_internet and c["file_upload"].requires_internet
    assert not c["rsync_transfer"].requires_internet
    assert c["data_compression"].priority == 3 and c["file_upload"].max_attempts == 5


@pytest.mark.parametrize(("value", "expected"), [(1, 1), ("2", 2), ("high", 1), ("NORMAL", 2), (" low ", 3)])
def test_priority_parsing(value: object, expected: int) -> None:
    assert domain.parse_priority(value) == expected


@pytest.mark.parametrize("value", [0, 4, "4", "urgent", True, 1.5, None, "-1"])
def test_priority_refusals(value: object) -> None:
    with pytest.raises(ValueError):
        domain.parse_priority(value)


def test_retry_delay_is_exponential_capped_and_jittered() -> None:
    assert [domain.retry_delay_seconds(a, 30, 3600) for a in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert domain.retry_delay_seconds(20, 30, 3600) == 3600
    assert domain.retry_delay_seconds(1, 30, 3600, jitter=0.5) == 45
    assert domain.retry_delay_seconds(1, 30, 3600, jitter=-0.5) == 15


def test_uuid_validation() -> None:
    assert domain.is_valid_uuid("550e8400-e29b-41d4-a716-446655440000")
    for bad in ("550e8400e29b41d4a716446655440000", "xyz", "", "550e8400-e29b-41d4-a716-44665544000g"):
        assert not domain.is_valid_uuid(bad)


def test_domain_module_is_a_leaf() -> None:
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(domain))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    assert not {m for m in imported if m and (m.startswith("sccli") or m in ("os", "sqlite3", "pymongo", "subprocess"))}


def test_only_the_cli_package_imports_typer_or_rich() -> None:
    from pathlib import Path

    root = Path(domain.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        if "cli" in path.relative_to(root).parts:
            continue
        text = path.read_text()
        if any(f"import {m}" in text or f"from {m}" in text for m in ("typer", "rich")):
            offenders.append(str(path.relative_to(root)))
    assert offenders == []
