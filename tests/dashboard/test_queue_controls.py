"""The dashboard's queue controls: an operator pauses, resumes and limits a type after a
confirmation, recorded with the token's name; viewers and bad input change nothing."""

from __future__ import annotations

from sccli.controls import read_limits
from sccli.pause import paused_types
from tests.dashboard.conftest import VIEWER_TOKEN, Dash


def test_an_operator_limits_pauses_and_resumes_a_type_after_confirming(operator: Dash, monkeypatch) -> None:
    events: list[dict] = []
    real = operator.store.insert_event
    monkeypatch.setattr(operator.store, "insert_event", lambda e: (events.append(e), real(e))[1])
    page = operator.client.get("/queue")
    assert page.status_code == 200 and 'id="type-google_sync"' in page.text
    csrf = operator.csrf("/queue")
    form = {
        "csrf": csrf,
        "job_type": "google_sync",
        "action": "set",
        "max_running": "4",
        "rate": "60/h",
        "reason": "quota",
    }
    confirm = operator.post("/queue/control", form)
    assert confirm.status_code == 200 and "max_running = 4" in confirm.text and "rate = 60/h" in confirm.text
    assert read_limits(operator.store) == {}  # nothing changes before the confirmation
    done = operator.post("/queue/control", {**form, "confirmed": "yes"})
    assert done.status_code == 303 and done.headers["location"] == "/queue?notice=changed"
    limits = read_limits(operator.store)["google_sync"]
    assert limits.max_running == 4 and str(limits.rate) == "60/h"
    assert events[-1]["actor"] == "api:portal" and events[-1]["reason"] == "quota"
    assert "max_running 4 reached" not in operator.client.get("/queue").text  # nothing runs: not held
    operator.post(
        "/queue/control", {"csrf": csrf, "job_type": "google_sync", "action": "set", "rate": "-", "confirmed": "yes"}
    )
    assert read_limits(operator.store)["google_sync"].rate is None
    operator.post("/queue/control", {"csrf": csrf, "job_type": "google_sync", "action": "pause", "confirmed": "yes"})
    assert paused_types(operator.store)["google_sync"]["actor"] == "api:portal"
    operator.post("/queue/control", {"csrf": csrf, "job_type": "google_sync", "action": "resume", "confirmed": "yes"})
    assert paused_types(operator.store) == {}
    operator.post("/queue/control", {"csrf": csrf, "job_type": "google_sync", "action": "clear", "confirmed": "yes"})
    assert read_limits(operator.store) == {}


def test_bad_input_and_viewers_change_nothing(operator: Dash, tmp_path) -> None:
    csrf = operator.csrf("/queue")
    for bad in ({"rate": "lots"}, {"max_running": "0"}, {"max_running": "two"}, {"timeout": "5s"}, {}):
        response = operator.post(
            "/queue/control", {"csrf": csrf, "job_type": "google_sync", "action": "set", "confirmed": "yes", **bad}
        )
        assert response.status_code in (400, 422), (bad, response.status_code)
    assert operator.post(
        "/queue/control", {"csrf": csrf, "job_type": "nope", "action": "pause", "confirmed": "yes"}
    ).status_code in (400, 422)
    assert read_limits(operator.store) == {} and paused_types(operator.store) == {}
    operator.sign_in(VIEWER_TOKEN)
    assert 'action="/queue/control"' not in operator.client.get("/queue").text  # no buttons for a viewer
    viewer_csrf = operator.csrf("/jobs")
    refused = operator.post(
        "/queue/control", {"csrf": viewer_csrf, "job_type": "google_sync", "action": "pause", "confirmed": "yes"}
    )
    assert refused.status_code == 403 and paused_types(operator.store) == {}


def test_an_operator_sets_and_removes_a_fleet_memory_limit(operator: Dash) -> None:
    csrf = operator.csrf("/queue")
    form = {"csrf": csrf, "job_type": "dataset_conversion", "action": "set", "memory_limit_mb": "2048"}
    assert "memory_limit_mb = 2048" in operator.post("/queue/control", form).text  # the confirmation says it
    operator.post("/queue/control", {**form, "confirmed": "yes"})
    assert read_limits(operator.store)["dataset_conversion"].memory_limit_mb == 2048
    assert 'aria-label="memory limit of dataset_conversion"' in operator.client.get("/queue").text
    for bad in ("0", "lots", "1.5"):
        response = operator.post("/queue/control", {**form, "memory_limit_mb": bad, "confirmed": "yes"})
        assert response.status_code in (400, 422), bad
    operator.post("/queue/control", {**form, "memory_limit_mb": "-", "confirmed": "yes"})
    assert read_limits(operator.store) == {}
