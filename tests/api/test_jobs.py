"""Job endpoints through the test client, on SQLite and mongomock."""

from __future__ import annotations

from typing import Any

import pytest

from sccli.store.base import JobQuery
from tests.backdoor import backdoor
from tests.conftest import add_dataset, new_uuid

from .conftest import Api


def _create(api: Api, dataset: str, job_type: str = "dataset_conversion", **body: Any) -> Any:
    return api.post("/api/v1/jobs", json={"dataset_uuid": dataset, "job_type": job_type, **body})


def test_create_returns_201_with_the_job_in_portal_shape(api: Api) -> None:
    dataset = add_dataset(api.store)
    response = _create(api, dataset, parameters={"sensor_type": "4D_Probe"}, priority=1)
    assert response.status_code == 201, response.text
    job = response.json()
    assert response.headers["location"] == f"/api/v1/jobs/{job['job_id']}"
    assert (job["dataset_uuid"], job["job_type"], job["status"], job["priority"]) == (
        dataset, "dataset_conversion", "pending", 1,
    )
    assert job["parameters"] == {"sensor_type": "4D_Probe"}
    assert job["created_by"] == "api:portal"
    assert job["created_at"].endswith("Z") and job["run_after"].endswith("Z")
    assert "_id" not in job and "lease_token" not in job
    events = api.store.find_events(job["job_id"])
    assert [(e["to"], e["actor"]) for e in events if e.get("entity") == "job"] == [("pending", "api:portal")]
    assert api.store.get_dataset(dataset)["status"] == "conversion queued"


def test_create_takes_defaults_from_the_job_type_and_priority_names(api: Api) -> None:
    job = _create(api, add_dataset(api.store), "data_compression", priority="high").json()
    assert (job["priority"], job["max_attempts"], job["timeout_minutes"]) == (1, 2, 45)


def _field_errors(response: Any) -> list[tuple[Any, ...]]:
    assert response.status_code == 422, response.text
    return [tuple(d["loc"]) for d in response.json()["detail"]]


def test_bad_input_is_422_naming_the_field_and_writes_nothing(api: Api) -> None:
    dataset = add_dataset(api.store)
    assert ("body", "job_type") in _field_errors(_create(api, dataset, "no_such_type"))
    assert ("body", "dataset_uuid") in _field_errors(_create(api, "not-a-uuid"))
    assert any(loc[:2] == ("body", "priority") for loc in _field_errors(_create(api, dataset, priority=7)))
    assert any(loc[:2] == ("body", "priority") for loc in _field_errors(_create(api, dataset, priority="urgent")))
    assert any(loc[:2] == ("body", "priority") for loc in _field_errors(_create(api, dataset, priority=True)))
    assert ("body", "max_attempts") in _field_errors(_create(api, dataset, max_attempts=0))
    assert any(loc[:2] == ("body", "parameters") for loc in _field_errors(_create(api, dataset, parameters=[1, 2])))
    assert ("body", "job_type") in _field_errors(api.post("/api/v1/jobs", json={"dataset_uuid": dataset}))
    assert ("body", "surprise") in _field_errors(_create(api, dataset, surprise=True))
    assert _field_errors(
        api.client.post(
            "/api/v1/jobs", content=b"{not json", headers={**api.headers, "content-type": "application/json"}
        )
    )
    assert api.store.count_jobs(JobQuery()) == 0


def test_queue_refusals_keep_their_field(api: Api) -> None:
    from sccli.api.errors import body_field_of

    assert body_field_of("malformed dataset UUID 'x' (expected 8-4-4-4-12 hex)") == "dataset_uuid"
    assert body_field_of("priority must be 1-3 or high/normal/low, got 9") == "priority"
    assert body_field_of("parameters are not JSON-serialisable: x") == "parameters"
    assert body_field_of("timeout_minutes must be a whole number from 1 to 10080, got 0") == "timeout_minutes"
    assert body_field_of("something else") is None


def test_duplicate_active_job_is_409_unless_allowed(api: Api) -> None:
    dataset = add_dataset(api.store)
    assert _create(api, dataset).status_code == 201
    duplicate = _create(api, dataset)
    assert duplicate.status_code == 409 and "active job" in duplicate.json()["detail"]
    assert _create(api, dataset, allow_duplicate=True).status_code == 201


def test_unknown_dataset_is_404_unless_allowed(api: Api) -> None:
    dataset = new_uuid()
    missing = _create(api, dataset)
    assert missing.status_code == 404 and dataset in missing.json()["detail"]
    assert _create(api, dataset, allow_missing_dataset=True).status_code == 201


def test_get_job_explains_it_and_404s_when_unknown(api: Api) -> None:
    job_id = _create(api, add_dataset(api.store)).json()["job_id"]
    job = api.get(f"/api/v1/jobs/{job_id}").json()
    assert job["job_id"] == job_id and job["explanation"]
    assert any("no live service" in reason for reason in job["explanation"])
    assert "explanation" not in api.get(f"/api/v1/jobs/{job_id}", params={"explain": "false"}).json()
    unknown = api.get(f"/api/v1/jobs/{new_uuid()}")
    assert unknown.status_code == 404 and "not found" in unknown.json()["detail"]


def test_list_filters_and_paginates_newest_first(api: Api) -> None:
    first, second = add_dataset(api.store), add_dataset(api.store)
    ids = [
        _create(api, first, t).json()["job_id"] for t in ("dataset_conversion", "data_validation", "backup_creation")
    ]
    other = _create(api, second, "data_validation").json()["job_id"]
    api.post(f"/api/v1/jobs/{ids[0]}/cancel")
    page = api.get("/api/v1/jobs", params={"limit": 2}).json()
    assert (page["total"], page["limit"], page["offset"], len(page["jobs"])) == (4, 2, 0, 2)
    rest = api.get("/api/v1/jobs", params={"limit": 2, "offset": 2}).json()["jobs"]
    listed = [j["job_id"] for j in page["jobs"] + rest]
    assert sorted(listed) == sorted([*ids, other])
    assert [j["created_at"] for j in page["jobs"] + rest] == sorted(
        (j["created_at"] for j in page["jobs"] + rest), reverse=True
    )

    def ids_of(**params: Any) -> set[str]:
        return {j["job_id"] for j in api.get("/api/v1/jobs", params=params).json()["jobs"]}

    assert ids_of(status="cancelled") == {ids[0]}
    assert ids_of(status=["pending", "cancelled"]) == {*ids, other}
    assert ids_of(job_type="data_validation") == {ids[1], other}
    assert ids_of(dataset_uuid=second) == {other}
    assert ids_of(dataset_uuid=first, job_type=["backup_creation", "data_validation"]) == {ids[1], ids[2]}


def test_list_refuses_bad_filters_and_pages(api: Api) -> None:
    assert ("query", "status", 0) in _field_errors(api.get("/api/v1/jobs", params={"status": "sleeping"}))
    assert ("query", "job_type") in _field_errors(api.get("/api/v1/jobs", params={"job_type": "nope"}))
    assert ("query", "limit") in _field_errors(api.get("/api/v1/jobs", params={"limit": 501}))
    assert ("query", "limit") in _field_errors(api.get("/api/v1/jobs", params={"limit": 0}))
    assert ("query", "offset") in _field_errors(api.get("/api/v1/jobs", params={"offset": -1}))
    # a misspelt filter is refused, never read as "no filter" (which would list every job)
    assert ("query", "stauts") in _field_errors(api.get("/api/v1/jobs", params={"stauts": "failed"}))
    assert ("query", "") in _field_errors(api.get("/api/v1/jobs?=null"))
    # a UUID with a trailing newline (or not a UUID) is refused, not answered with an empty page
    for bad in ("550e8400-e29b-41d4-a716-446655440000\n", "not-a-uuid", "\u00ff"):
        assert ("query", "dataset_uuid") in _field_errors(api.get("/api/v1/jobs", params={"dataset_uuid": bad})), bad


def test_cancel_pending_running_and_ended_jobs(api: Api) -> None:
    from sccli.queue import JobQueue

    dataset = add_dataset(api.store)
    pending = _create(api, dataset).json()["job_id"]
    done = api.post(f"/api/v1/jobs/{pending}/cancel", json={"reason": "wrong sensor"}).json()
    assert (done["status"], done["error"]) == ("cancelled", "wrong sensor")
    assert api.store.find_events(pending)[-1]["actor"] == "api:portal"
    again = api.post(f"/api/v1/jobs/{pending}/cancel")
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]
    running_id = _create(api, dataset, "data_validation").json()["job_id"]
    JobQueue(api.store, actor="cli:test@host").claim_next("w1")
    running = api.post(f"/api/v1/jobs/{running_id}/cancel").json()
    assert (running["status"], running["cancel_requested"]) == ("running", True)
    assert "portal" in running["cancel_reason"]
    assert api.post(f"/api/v1/jobs/{new_uuid()}/cancel").status_code == 404


def test_retry_only_failed_or_cancelled_jobs(api: Api) -> None:
    job_id = _create(api, add_dataset(api.store)).json()["job_id"]
    wrong = api.post(f"/api/v1/jobs/{job_id}/retry")
    assert wrong.status_code == 409 and "pending" in wrong.json()["detail"]
    api.post(f"/api/v1/jobs/{job_id}/cancel")
    retried = api.post(f"/api/v1/jobs/{job_id}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    last = api.store.find_events(job_id)[-1]
    assert (last["to"], last["actor"]) in {("pending", "api:portal"), ("conversion queued", "api:portal")}
    assert api.post(f"/api/v1/jobs/{new_uuid()}/retry").status_code == 404


def test_queue_stats_counts_by_status_and_type(api: Api) -> None:
    dataset = add_dataset(api.store)
    first = _create(api, dataset).json()["job_id"]
    _create(api, dataset, "data_validation")
    api.post(f"/api/v1/jobs/{first}/cancel")
    overview = api.get("/api/v1/jobs/queue/stats").json()
    stats = overview["queue_stats"]
    assert (stats["total_jobs"], stats["pending_jobs"], stats["cancelled_jobs"], stats["running_jobs"]) == (2, 1, 1, 0)
    assert stats["job_types"] == {"dataset_conversion": 1, "data_validation": 1}
    assert overview["health_status"]["overall"] in ("healthy", "warning", "critical", "unknown")
    assert overview["timestamp"].endswith("Z")


def test_queue_stats_health_comes_from_the_monitor(api: Api) -> None:
    from sccli.queue import JobQueue

    queue = JobQueue(api.store, actor="cli:test@host")
    for _ in range(2):
        _create(api, add_dataset(api.store), "data_validation")
        job = queue.claim_next("w1")
        assert job is not None
        queue.fail(job["job_id"], job["lease_token"], "disk full", retry=False)
    health = api.get("/api/v1/jobs/queue/stats").json()["health_status"]
    assert (health["overall"], health["failure_rate"]) == ("critical", 1.0)
    assert health["issues"]


def test_openapi_and_docs_are_served(api: Api) -> None:
    schema = api.client.get("/api/v1/openapi.json").json()
    expected = {
        "/api/v1/jobs", "/api/v1/jobs/{job_id}", "/api/v1/jobs/queue/stats", "/api/v1/jobs/{job_id}/cancel",
        "/api/v1/jobs/{job_id}/retry", "/api/v1/health",
    }
    assert expected <= set(schema["paths"])
    assert api.client.get("/api/v1/docs").status_code == 200


def test_a_legacy_job_document_still_reads(api: Api) -> None:
    """Only MongoDB can hold a document without created_at (SQLite's column is NOT NULL)."""
    from sccli.queue import JobQueue

    if not backdoor(api.store).holds_legacy_documents:
        pytest.skip("this store refuses a job without created_at")
    doc = JobQueue(api.store, actor="cli:test@host").build_job(new_uuid(), "data_validation", {}, None, None, None)
    doc.pop("created_at")
    doc.pop("active_key")
    doc["legacy_field"] = float("inf")
    api.store.insert_job(doc)
    job = api.get(f"/api/v1/jobs/{doc['job_id']}")
    assert job.status_code == 200, job.text
    assert job.json()["legacy_field"] is None and job.json()["explanation"]


def test_a_newline_in_a_tool_parameter_is_422_and_writes_nothing(api: Api) -> None:
    """An rclone configuration injection through user_email (issue 19) is refused at the door."""
    dataset = add_dataset(api.store)
    params = {"user_email": "a@b.org\ntype = alias\nremote = /etc", "impersonate": True,
              "data_url": "1AbCdEfGhIjKlMnOp"}
    response = _create(api, dataset, "google_sync", parameters=params)
    assert any(loc[:2] == ("body", "parameters") for loc in _field_errors(response))
    assert "control character" in response.text
    assert api.store.count_jobs(JobQuery()) == 0


def test_create_for_later_with_run_at_or_delay_seconds(api: Api) -> None:
    from datetime import timedelta, timezone

    start = (api.store.now() + timedelta(days=30)).replace(microsecond=0)
    later = _create(
        api, add_dataset(api.store), "data_validation",
        run_at=start.astimezone(timezone(timedelta(hours=1))).isoformat(),
    )
    assert later.status_code == 201, later.text
    assert later.json()["status"] == "scheduled" and later.json()["run_after"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    naive = _create(api, add_dataset(api.store), "data_validation", run_at="2020-01-01T03:00")
    assert naive.status_code == 201 and naive.json()["status"] == "pending"  # a past time runs at once
    delayed = _create(api, add_dataset(api.store), "data_validation", delay_seconds=120)
    assert delayed.status_code == 201 and delayed.json()["status"] == "scheduled"
    listed = api.get("/api/v1/jobs", params={"status": "scheduled"}).json()
    assert sorted(j["job_id"] for j in listed["jobs"]) == sorted([later.json()["job_id"], delayed.json()["job_id"]])


def test_bad_start_times_are_422_naming_the_field_and_write_nothing(api: Api) -> None:
    dataset = add_dataset(api.store)
    assert any(loc[:2] == ("body", "run_at") for loc in _field_errors(_create(api, dataset, run_at="tomorrow")))
    assert any(loc[:2] == ("body", "delay_seconds") for loc in _field_errors(_create(api, dataset, delay_seconds=-1)))
    assert any(loc[:2] == ("body", "delay_seconds") for loc in _field_errors(_create(api, dataset, delay_seconds=True)))
    assert _field_errors(_create(api, dataset, run_at="2099-01-01T00:00Z", delay_seconds=5))
    assert ("body", "run_at") in _field_errors(_create(api, dataset, run_at="2999-01-01T00:00Z"))  # beyond a year
    assert api.store.count_jobs(JobQuery()) == 0
