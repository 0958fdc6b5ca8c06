"""Plain and markdown listings are printed by tabulate (0.9 and 0.10 alike: an empty cell is missing, not
text), byte for byte as before issue 21 (the in-house clone they replace printed the texts below), ids never
read as numbers, a listing without rows too."""

from __future__ import annotations

import types

import pytest

from sccli.cli import render

COLUMNS = ["job_id", "job_type", "status", "priority", "attempts", "dataset_uuid", "progress", "duration"]
ROWS = [
    {
        "job_id": "3723e156-91bb-4a00-8aa6-4d2b7dfa0a33",  # its short id 3723e156 reads as a float to tabulate
        "job_type": "dataset_conversion",
        "status": "pending",
        "priority": 1,
        "attempts": 0,
        "dataset_uuid": "1f0ef3ff-5df9-4495-8e32-ee73db60f6e3",
        "progress": 12.5,
        "duration": None,
    },
    {
        "job_id": "8d61e45a-91bb-4a00-8aa6-4d2b7dfa0a33", "job_type": "data_validation", "status": "failed",
        "priority": 3, "attempts": 12, "dataset_uuid": None, "progress": 100.25, "duration": 75.0,
    },
]
PLAIN = (
    "job_id    job_type            status      priority    attempts  "
    "dataset_uuid                            progress    duration\n"
    "3723e156  dataset_conversion  pending            1           0  1f0ef3ff-5df9-4495-8e32-ee73db60f6e3       12.5\n"
    "8d61e45a  data_validation     failed             3          "
    "12                                            100.25          75\n"
)
MARKDOWN = (
    "| job_id                               | job_type           | status   |   priority |   attempts "
    "| dataset_uuid                         |   progress |   duration |\n"
    "|--------------------------------------|--------------------|----------|------------|------------"
    "|--------------------------------------|------------|------------|\n"
    "| 3723e156-91bb-4a00-8aa6-4d2b7dfa0a33 | dataset_conversion | pending  |          1 |          0 "
    "| 1f0ef3ff-5df9-4495-8e32-ee73db60f6e3 |      12.5  |            |\n"
    "| 8d61e45a-91bb-4a00-8aa6-4d2b7dfa0a33 | data_validation    | failed   |          3 |         12 "
    "|                                      |     100.25 |         75 |\n"
)
EMPTY_PLAIN = "job_id    job_type    status    priority    attempts    dataset_uuid    progress    duration\n"
EMPTY_MARKDOWN = (
    "| job_id   | job_type   | status   | priority   | attempts   | dataset_uuid   | progress   | duration   |\n"
    "|----------|------------|----------|------------|------------|----------------|------------|------------|\n"
)


@pytest.mark.parametrize(
    ("fmt", "rows", "expected"),
    [
        ("plain", ROWS, PLAIN), ("markdown", ROWS, MARKDOWN), ("plain", [], EMPTY_PLAIN),
        ("markdown", [], EMPTY_MARKDOWN),
    ],
)
def test_a_listing_prints_the_same_bytes(
    fmt: str, rows: list[dict[str, object]], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    render.table(types.SimpleNamespace(wide=False), rows, COLUMNS, fmt=fmt)  # type: ignore[arg-type]
    assert capsys.readouterr().out == expected

