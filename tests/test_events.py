"""sccli.events: the typed constructor of job_events records keeps the stored field names."""

from __future__ import annotations

from datetime import UTC, datetime

from sccli.domain import JobStatus
from sccli.events import PURGED, dataset_event, job_event, job_purged, queue_event

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
STORED = {"job_id", "entity", "from", "to", "at", "actor", "reason"}


def test_a_job_event_is_stored_under_the_portal_names() -> None:
    doc = job_event("j1", JobStatus.PENDING, JobStatus.RUNNING, at=AT, actor="worker:h:1", reason="claimed",
                    event_id="claim:t")
    assert doc == {"job_id": "j1", "entity": "job", "from": "pending", "to": "running", "at": AT,
                   "actor": "worker:h:1", "reason": "claimed", "event_id": "claim:t"}
    assert type(doc["from"]) is str and type(doc["to"]) is str  # values, not enum members (the store codec)
    created = job_event("j2", None, "scheduled", at=AT, actor="api", reason="created")
    assert created["from"] is None and created["to"] == "scheduled"


def test_a_purge_is_a_deletion_not_a_status() -> None:
    doc = job_purged("j1", JobStatus.SCHEDULED, at=AT, actor="cli:u@h", reason="purged by cli:u@h")
    assert set(doc) == STORED | {"action"}
    assert doc["action"] == "purged" and doc["to"] == PURGED and doc["from"] == "scheduled"
    assert PURGED not in {s.value for s in JobStatus}


def test_dataset_and_queue_events() -> None:
    refused = dataset_event("u1", "done", "uploading", job_id="j1", at=AT, actor="a", reason="r", refused=True)
    assert refused == {"job_id": "j1", "entity": "dataset", "dataset_uuid": "u1", "from": "done", "to": "uploading",
                       "at": AT, "actor": "a", "reason": "r", "refused": True}
    paused = queue_event("google_sync", "active", "paused", at=AT, actor="a", reason="maintenance")
    assert paused == {"job_id": None, "entity": "queue", "job_type": "google_sync", "from": "active", "to": "paused",
                      "at": AT, "actor": "a", "reason": "maintenance"}
