"""Checks that a store's history explains its state: used after crash and chaos runs."""

from __future__ import annotations

from typing import Any

from sccli import domain
from sccli.store.base import JobQuery, Store


def job_history_problems(store: Store, job: dict[str, Any]) -> list[str]:
    """Where the job's events do not explain its status (a missing or impossible transition)."""
    events = [
        e
        for e in store.find_events(job["job_id"])
        if e.get("entity", "job") == "job" and not e.get("refused") and e.get("from") != e.get("to")
    ]
    problems = []
    at: str | None = None
    for event in events:
        if event.get("from") != at:
            problems.append(f"{job['job_id']}: event {event.get('from')} → {event.get('to')} after {at}")
        if not domain.job_transition_allowed(event.get("from"), event["to"]):
            problems.append(f"{job['job_id']}: {event.get('from')} → {event['to']} is not in the table")
        at = event["to"]
    if at != job["status"]:
        problems.append(f"{job['job_id']} is {job['status']} but its events end at {at}")
    return problems


def dataset_history_problems(store: Store, job_ids: list[str]) -> list[str]:
    """Dataset moves recorded with these jobs that are outside the table."""
    problems = []
    for job_id in job_ids:
        for event in store.find_events(job_id):
            if (
                event.get("entity") == "dataset"
                and not event.get("refused")
                and "(forced)" not in event.get("reason", "")
                and "(healed)" not in event.get("reason", "")
            ):
                if not domain.dataset_transition_allowed(event.get("from"), event["to"]):
                    problems.append(
                        f"dataset {event.get('dataset_uuid')}: {event.get('from')} → {event['to']} outside the table"
                    )
    return problems


def chain_report(store: Store, datasets: list[str]) -> dict[str, Any]:
    """For upload/sync → … → conversion chains: datasets not done, chains missing a child, event gaps."""
    jobs = store.find_jobs(JobQuery(dataset_uuids=datasets), limit=None)
    by_parent: dict[str, list[dict[str, Any]]] = {}
    for job in jobs:
        if job.get("parent_job_id"):
            by_parent.setdefault(job["parent_job_id"], []).append(job)
    missing_children = [
        j["job_id"]
        for j in jobs
        if j["status"] == "completed"
        and domain.next_stage(j["job_type"], j.get("result"), {})[1]
        and not by_parent.get(j["job_id"])
    ]
    twins = [p for p, kids in by_parent.items() if len(kids) > 1]
    stuck = [d for d in datasets if (store.get_dataset(d) or {}).get("status") != "done"]
    events = [p for j in jobs for p in job_history_problems(store, j)]
    events += dataset_history_problems(store, [j["job_id"] for j in jobs])
    outboxes = [j["job_id"] for j in jobs if j.get("outbox")]
    return {
        "jobs": len(jobs), "missing_children": missing_children, "twins": twins, "stuck": stuck,
        "event_problems": events, "outboxes": outboxes,
    }
