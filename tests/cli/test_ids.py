"""Job ids as typed: the whole id, or a unique prefix of at least 6 characters, in every command."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sccli.errors import EXIT_BAD_INPUT, EXIT_NOT_FOUND
from sccli.queue import JobQueue
from sccli.store import open_store
from sccli.store.base import Store
from tests.conftest import add_dataset

TWINS = ("abcdef01-0000-4000-8000-000000000001", "abcdef02-0000-4000-8000-000000000002")


@pytest.fixture
def queue(db_url: str) -> JobQueue:
    store = open_store(db_url)
    store.ensure_schema()
    return JobQueue(store, actor="cli:test@host", retry_base_seconds=0.0, retry_max_seconds=0.0)


def plant(store: Store, job_id: str, template: str) -> None:
    """A copy of job ``template`` under the id ``job_id`` (ids that share a prefix)."""
    doc = {**store.get_job(template), "job_id": job_id}  # type: ignore[dict-item]
    doc.pop("active_key", None)
    store.insert_job(doc)


def test_a_unique_prefix_names_the_job_in_every_command(sc: Any, queue: JobQueue) -> None:
    job_id = queue.create_job(add_dataset(queue.store), "data_validation")
    prefix = job_id[:8]
    shown = sc("job", "show", prefix, "--json")
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["job_id"] == job_id
    assert sc("job", "logs", prefix).exit_code == 0
    cancelled = sc("job", "cancel", prefix[:6])
    assert cancelled.exit_code == 0, cancelled.stderr
    assert queue.get_job(job_id)["status"] == "cancelled"
    retried = sc("job", "retry", prefix.upper())  # the dashboard's short id, typed in capitals
    assert retried.exit_code == 0, retried.stderr
    assert queue.get_job(job_id)["status"] == "pending"


def test_an_ambiguous_prefix_lists_the_candidates_and_changes_nothing(sc: Any, queue: JobQueue) -> None:
    template = queue.create_job(add_dataset(queue.store), "data_validation")
    for twin in TWINS:
        plant(queue.store, twin, template)
    for args in (["job", "show", "abcdef"], ["job", "cancel", "abcdef0"], ["job", "wait", "abcdef", "--timeout", "0"]):
        out = sc(*args)
        assert out.exit_code == EXIT_BAD_INPUT, (args, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error:") and "ambiguous" in lines[0]
        assert all(twin in lines[0] for twin in TWINS)
    assert {queue.get_job(t)["status"] for t in TWINS} == {"pending"}
    assert json.loads(sc("job", "show", "abcdef02", "--json").stdout)["job_id"] == TWINS[1]


def test_too_short_or_unknown_prefixes_are_not_found(sc: Any, queue: JobQueue) -> None:
    job_id = queue.create_job(add_dataset(queue.store), "data_validation")
    short = sc("job", "show", job_id[:5])
    assert short.exit_code == EXIT_NOT_FOUND and "at least 6 characters" in short.stderr
    unknown = sc("job", "show", "ffffffff" if not job_id.startswith("ffffffff") else "00000000")
    assert unknown.exit_code == EXIT_NOT_FOUND and "no job id starts with it" in unknown.stderr
    spaced = sc("job", "show", job_id[:8] + "\n")
    assert spaced.exit_code == EXIT_BAD_INPUT and spaced.stderr.count("Error:") == 1


def test_bulk_ids_mix_prefixes_and_report_the_unknown(sc: Any, queue: JobQueue) -> None:
    a = queue.create_job(add_dataset(queue.store), "data_validation")
    b = queue.create_job(add_dataset(queue.store), "data_validation")
    out = sc("job", "cancel", a[:8], b, "nope-nope")
    assert out.exit_code == 1 and "nope-nope" in out.stderr
    assert queue.get_job(a)["status"] == queue.get_job(b)["status"] == "cancelled"
