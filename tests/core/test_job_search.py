"""Job search by parameter and by the dataset's owner and name, and deleting one ended job, on
every backend (SQLite, mongomock, the wire server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sccli.datasets import add_dataset
from sccli.errors import Conflict, NotFound
from sccli.job_delete import DELETED, deletable_job, delete_job
from sccli.job_search import JobSearch, parse_param_filter, search_jobs
from sccli.queue import JobQueue
from sccli.settings import Settings
from sccli.store.base import JobQuery, Store
from tests.conftest import new_uuid


def dataset(store: Store, name: str, user: str) -> str:
    return str(add_dataset(store, new_uuid(), name, user=user)["uuid"])


def ids(page: Any) -> set[str]:
    return {j["job_id"] for j in page.items}


@pytest.fixture
def world(store: Store, queue: JobQueue) -> dict[str, Any]:
    alice_scan = dataset(store, "Brain 100% scan", "alice@example.org")
    alice_other = dataset(store, "liver", "alice@example.org")
    bob_scan = dataset(store, "brain_scan", "bob@example.org")
    return {
        "a1": queue.create_job(alice_scan, "data_compression", {"format": "lz4"}),
        "a2": queue.create_job(alice_other, "data_compression", {"format": "zst", "level": 3}),
        "b1": queue.create_job(bob_scan, "data_compression", {"format": "lz4", "level": 3}),
    }


def search(store: Store, **kw: Any) -> Any:
    params = [parse_param_filter(p) for p in kw.pop("params", [])]
    return search_jobs(store, JobSearch(params=params, **kw), limit=50)


def test_by_user_and_dataset_name(store: Store, world: dict[str, Any]) -> None:
    assert ids(search(store, user="alice@example.org")) == {world["a1"], world["a2"]}
    assert ids(search(store, dataset_name="BRAIN")) == {world["a1"], world["b1"]}  # any case, a substring
    assert ids(search(store, dataset_name="100%")) == {world["a1"]}  # % is a character, not a wildcard
    assert ids(search(store, dataset_name="_scan")) == {world["b1"]}
    both = search(store, user="bob@example.org", dataset_name="brain")
    assert ids(both) == {world["b1"]} and both.total == 1
    assert search(store, user="nobody@example.org").items == []


def test_by_parameter(store: Store, world: dict[str, Any]) -> None:
    assert ids(search(store, params=["format=lz4"])) == {world["a1"], world["b1"]}
    assert ids(search(store, params=["level=3"])) == {world["a2"], world["b1"]}  # JSON 3 matches the number
    assert ids(search(store, params=["format=lz4", "level=3"])) == {world["b1"]}
    assert ids(search(store, params=["format=lz4"], user="alice@example.org")) == {world["a1"]}
    assert search(store, params=["level=4"]).total == 0


def test_a_parameter_search_says_when_it_hit_its_bound(store: Store, world: dict[str, Any]) -> None:
    page = search_jobs(store, JobSearch(params=[parse_param_filter("format=lz4")]), limit=50, scan_limit=2)
    assert len(page.notices) == 1 and "newest 2 of 3 jobs" in page.notices[0]
    assert search(store, params=["format=lz4"]).notices == []


def test_filters_combine_with_the_indexed_ones(store: Store, world: dict[str, Any]) -> None:
    query = JobQuery(dataset_uuid=store.get_job(world["a1"])["dataset_uuid"])  # type: ignore[index]
    assert ids(search_jobs(store, JobSearch(query, user="alice@example.org"))) == {world["a1"]}
    assert ids(search_jobs(store, JobSearch(query, user="bob@example.org"))) == set()


def test_delete_one_ended_job(store: Store, queue: JobQueue, world: dict[str, Any], tmp_path: Path) -> None:
    settings = Settings(log_dir=str(tmp_path))
    claimed = queue.claim_next("w1")
    assert claimed is not None
    with pytest.raises(Conflict, match="only an ended job"):
        deletable_job(store, claimed["job_id"])
    queue.complete(claimed["job_id"], claimed["lease_token"], {"ok": True})
    log = tmp_path / f"sc_job_{claimed['job_id']}.log"
    log.write_text("a line\n")
    (tmp_path / "other.log").write_text("kept\n")
    job = deletable_job(store, claimed["job_id"][:8])
    result = delete_job(store, settings, job, "cli:test@host", "test")
    assert result["events"] >= 2 and result["log_files"] == 1 and not log.exists() and (tmp_path / "other.log").exists()
    assert store.get_job(claimed["job_id"]) is None
    audit = store.find_events(claimed["job_id"])
    assert [(e["to"], e["from"], e["actor"], e["reason"]) for e in audit] == [
        (DELETED, "completed", "cli:test@host", "test")
    ]
    with pytest.raises(NotFound):
        deletable_job(store, claimed["job_id"])
    assert len(queue.list_jobs(JobQuery(), limit=None)) == 2
