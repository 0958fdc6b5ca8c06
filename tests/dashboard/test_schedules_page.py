"""The schedules page: next and last fire with its job's outcome; pause, resume, run now for
operators only, with the CSRF token like every dashboard POST."""

from __future__ import annotations

from typing import Any

from sccli.schedules import ScheduleSpec, add_schedule, get_schedule
from tests.dashboard.conftest import VIEWER_TOKEN


def _add(dash: Any) -> None:
    add_schedule(
        dash.queue,
        ScheduleSpec(name="nightly", job_type="data_validation", cron="0 3 * * *", timezone="Europe/Rome"),
        actor="t",
    )


def test_operator_pauses_resumes_and_runs_now(operator: Any) -> None:
    _add(operator)
    page = operator.client.get("/schedules")
    assert page.status_code == 200 and "nightly" in page.text and "0 3 * * *" in page.text and "Run now" in page.text
    token = operator.csrf("/schedules")
    assert operator.post("/schedules/nightly/pause", {"csrf": token}).status_code == 303
    assert get_schedule(operator.store, "nightly")["paused"] is True
    assert operator.post("/schedules/nightly/resume", {"csrf": token}).status_code == 303
    assert get_schedule(operator.store, "nightly")["paused"] is False
    done = operator.post("/schedules/nightly/run-now", {"csrf": token})
    assert done.status_code == 303 and done.headers["location"] == "/schedules?notice=queued"
    after = operator.client.get("/schedules?notice=queued").text
    job_id = get_schedule(operator.store, "nightly")["last_job_id"]
    assert f"/jobs/{job_id}" in after and "Fired: a job was queued." in after


def test_posts_without_csrf_or_by_a_viewer_are_refused(dash: Any) -> None:
    _add(dash)
    dash.sign_in()
    assert dash.post("/schedules/nightly/pause", {"csrf": "forged"}).status_code == 403
    dash.client.cookies.clear()
    dash.sign_in(VIEWER_TOKEN)
    page = dash.client.get("/schedules")
    assert page.status_code == 200 and "Run now" not in page.text and "viewer" in page.text
    assert dash.post("/schedules/nightly/run-now", {"csrf": dash.csrf("/schedules")}).status_code == 403
    assert get_schedule(dash.store, "nightly")["last_job_id"] is None
