"""``/api/v1/schedules``: reads for any token, writes for operators, 422 for malformed crons."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.conftest import OPERATOR_TOKEN, VIEWER_TOKEN, make_dash

OP = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
VIEW = {"Authorization": f"Bearer {VIEWER_TOKEN}"}


@pytest.fixture(params=["sqlite", "mongomock"])
def dash(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The app with an operator and a viewer token, over each in-process backend."""
    yield from make_dash(tmp_path, request.param)


BODY = {"name": "nightly", "job_type": "data_validation", "cron": "30 2 * * *", "timezone": "Europe/Rome"}


def test_operator_adds_pauses_runs_and_removes_a_schedule(dash: Any) -> None:
    c = dash.client
    created = c.post("/api/v1/schedules", json=BODY, headers=OP)
    assert created.status_code == 201, created.text
    assert created.json()["cron"] == "30 2 * * *" and created.headers["Location"] == "/api/v1/schedules/nightly"
    assert [s["name"] for s in c.get("/api/v1/schedules", headers=VIEW).json()["schedules"]] == ["nightly"]
    assert c.patch("/api/v1/schedules/nightly", json={"paused": True}, headers=OP).json()["paused"] is True
    fired = c.post("/api/v1/schedules/nightly/run-now", headers=OP).json()
    assert fired["outcome"] == "queued" and dash.store.get_job(fired["job_id"]) is not None
    one = c.get("/api/v1/schedules/nightly", headers=VIEW).json()
    assert one["last_job_id"] == fired["job_id"] and [f["outcome"] for f in one["fires"]] == ["queued"]
    assert c.delete("/api/v1/schedules/nightly", headers=OP).json()["removed"] == "nightly"
    assert c.get("/api/v1/schedules/nightly", headers=VIEW).status_code == 404


def test_viewers_may_read_but_not_write(dash: Any) -> None:
    c = dash.client
    assert c.post("/api/v1/schedules", json=BODY, headers=VIEW).status_code == 403
    assert c.post("/api/v1/schedules", json=BODY, headers=OP).status_code == 201
    assert c.patch("/api/v1/schedules/nightly", json={"paused": True}, headers=VIEW).status_code == 403
    assert c.delete("/api/v1/schedules/nightly", headers=VIEW).status_code == 403
    assert c.post("/api/v1/schedules/nightly/run-now", headers=VIEW).status_code == 403
    assert c.get("/api/v1/schedules").status_code == 401


def test_malformed_input_is_422_naming_the_field_and_duplicates_409(dash: Any) -> None:
    c = dash.client
    for change, field in (
        ({"cron": "61 * * * *"}, "cron"),
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"catch_up": "all"}, "catch_up"),
    ):
        r = c.post("/api/v1/schedules", json={**BODY, **change}, headers=OP)
        assert r.status_code == 422, r.text
        assert field in str(r.json()["detail"][0]["loc"]), r.json()
    assert c.post("/api/v1/schedules", json={**BODY, "job_type": "nope"}, headers=OP).status_code == 422
    assert c.post("/api/v1/schedules", json=BODY, headers=OP).status_code == 201
    assert c.post("/api/v1/schedules", json=BODY, headers=OP).status_code == 409
    assert c.get("/api/v1/schedules", headers=OP).json()["schedules"][0]["name"] == "nightly"
