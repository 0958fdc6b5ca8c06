"""The API's status names are the domain's: a static Literal must not drift from the enum."""

from __future__ import annotations

from typing import get_args

from sccli.api.schemas import JobStatusName
from sccli.domain import JOB_STATUS_VALUES


def test_job_status_literal_lists_every_job_status_in_enum_order() -> None:
    assert get_args(JobStatusName) == JOB_STATUS_VALUES
