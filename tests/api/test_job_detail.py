"""A job's detail in the API: ids by unique prefix, its history (events), and a 409 that names
the job already active."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.conftest import add_dataset

TWINS = ("abcdef01-0000-4000-8000-000000000001", "abcdef02-0000-4000-8000-000000000002")


def _create(api: Api, dataset: str, job_type: str = "data_validation") -> Any:
    return api.post("/api/v1/jobs", json={"dataset_uuid": dataset, "job_type": job_type})


def test_get_job_by_prefix_with_its_events(api: Api) -> None:
    job_id = _create(api, add_dataset(api.store)).json()["job_id"]
    got = api.get(f"/api/v1/jobs/{job_id[:8]}")
    assert got.status_code == 200 and got.json()["job_id"] == job_id
    events = got.json()["events"]
    assert [e["to"] for e in events if e.get("entity", "job") == "job"] == ["pending"]
    history = api.get(f"/api/v1/jobs/{job_id[:6]}/events")
    assert history.status_code == 200 and history.json()["job_id"] == job_id
    assert history.json()["events"] == events
    assert api.post(f"/api/v1/jobs/{job_id[:8]}/cancel").json()["status"] == "cancelled"
    assert api.post(f"/api/v1/jobs/{job_id[:8]}/retry").json()["status"] == "pending"
    assert [
        e["to"] for e in api.get(f"/api/v1/jobs/{job_id}/events").json()["events"] if e.get("entity", "job") == "job"
    ] == ["pending", "cancelled", "pending"]


def test_ambiguous_short_and_unknown_prefixes(api: Api) -> None:
    template = _create(api, add_dataset(api.store)).json()["job_id"]
    for twin in TWINS:
        doc = {**api.store.get_job(template), "job_id": twin}  # type: ignore[dict-item]
        doc.pop("active_key", None)
        api.store.insert_job(doc)
    ambiguous = api.get("/api/v1/jobs/abcdef")
    assert ambiguous.status_code == 422 and all(t in str(ambiguous.json()["detail"]) for t in TWINS)
    assert api.post("/api/v1/jobs/abcdef/cancel").status_code == 422
    assert api.get("/api/v1/jobs/abcde").status_code == 404
    assert api.get("/api/v1/jobs/abcdef99/events").status_code == 404
    assert api.get("/api/v1/jobs/abcdef02").json()["job_id"] == TWINS[1]


def test_conflict_names_the_active_job(api: Api) -> None:
    dataset = add_dataset(api.store)
    first = _create(api, dataset).json()["job_id"]
    again = _create(api, dataset)
    assert again.status_code == 409 and first in again.json()["detail"] and "pending" in again.json()["detail"]
