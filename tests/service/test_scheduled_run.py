"""A running service's sweeper promotes scheduled jobs when their time comes, and a failed attempt
waits out its type's backoff as ``scheduled`` (end to end, real processes, SQLite)."""

from __future__ import annotations

from pathlib import Path

from sccli.store.base import JobQuery
from tests.conftest import StoreSpec
from tests.service.conftest import make_queue, new_job, write_settings


def job_moves(store: object, job_id: str) -> list[tuple[str | None, str, str, str]]:
    events = store.find_events(job_id)  # type: ignore[attr-defined]
    return [
        (e["from"], e["to"], e["actor"], e["reason"])
        for e in events
        if e.get("entity", "job") == "job" and e["from"] != e["to"]
    ]


def test_the_service_starts_scheduled_jobs_when_due_and_not_before(
    sqlite_spec: StoreSpec, tmp_path: Path, services
) -> None:
    settings = write_settings(tmp_path, retry_by_type={"fail": {"base_seconds": 0.6, "max_seconds": 0.6}})
    store = sqlite_spec.open()
    queue = make_queue(store)
    later = new_job(queue, "ok", delay=1.0)
    failing = new_job(queue, "fail", max_attempts=2)
    service = services(sqlite_spec, settings, "--until-idle")  # scheduled jobs are unfinished work: it waits for them
    assert service.wait() == 0, service.log()

    done = queue.get_job(later)
    assert done is not None and done["status"] == "completed" and done["started_at"] >= done["run_after"]
    assert [m[:2] for m in job_moves(store, later)] == [
        (None, "scheduled"), ("scheduled", "pending"), ("pending", "running"), ("running", "completed"),
    ]
    assert job_moves(store, later)[1][2:] == ("sweeper", "due")
    failed = queue.get_job(failing)
    assert failed is not None and failed["status"] == "failed" and failed["attempts"] == 2
    moves = [m[:2] for m in job_moves(store, failing)]
    assert moves == [
        (None, "pending"), ("pending", "running"), ("running", "scheduled"), ("scheduled", "pending"),
        ("pending", "running"), ("running", "failed"),
    ]
    second_start = [e for e in store.find_events(failing) if e.get("to") == "running"][1]["at"]
    first_failure = failed["errors"][0]["at"]
    assert (second_start - first_failure).total_seconds() >= 0.3  # 0.6 s ± 50 %: never before its backoff
    assert store.count_jobs(JobQuery(status=["scheduled", "pending", "running"])) == 0
