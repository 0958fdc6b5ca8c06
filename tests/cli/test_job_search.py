"""`sc job list --param/--user/--dataset-name` and `sc job delete ID` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sccli.datasets import add_dataset
from sccli.queue import JobQueue
from sccli.store import open_store
from tests.conftest import new_uuid


@pytest.fixture
def jobs(db_url: str) -> dict[str, Any]:
    store = open_store(db_url)
    store.ensure_schema()
    queue = JobQueue(store, actor="cli:test@host")
    alice = str(add_dataset(store, new_uuid(), "Brain scan", user="alice@example.org")["uuid"])
    bob = str(add_dataset(store, new_uuid(), "liver", user="bob@example.org")["uuid"])
    made = {
        "alice": queue.create_job(alice, "data_compression", {"format": "lz4"}),
        "bob": queue.create_job(bob, "data_compression", {"format": "zst"}),
    }
    return {"store": store, "queue": queue, **made}


def listed(result: Any) -> set[str]:
    assert result.exit_code == 0, result.stdout + result.stderr
    return {j["job_id"] for j in json.loads(result.stdout)["items"]}


def test_list_searches_by_user_name_and_parameter(sc: Any, jobs: dict[str, Any]) -> None:
    assert listed(sc("job", "list", "--user", "alice@example.org", "--json")) == {jobs["alice"]}
    assert listed(sc("job", "list", "--dataset-name", "brain", "--json")) == {jobs["alice"]}
    assert listed(sc("job", "list", "--param", "format=zst", "--json")) == {jobs["bob"]}
    assert listed(sc("job", "list", "-p", "format=zst", "--user", "alice@example.org", "--json")) == set()
    table = sc("job", "list", "--user", "bob@example.org", "--wide")
    assert jobs["bob"] in table.stdout and jobs["alice"] not in table.stdout


def test_empty_search_text_is_refused(sc: Any, jobs: dict[str, Any]) -> None:
    out = sc("job", "list", "--user", " ")
    assert out.exit_code == 2 and out.stderr.startswith("Error: --user needs a non-empty value")
    bad = sc("job", "list", "--param", "format")
    assert bad.exit_code == 2 and "key=value" in bad.stderr


def test_delete_refuses_active_jobs_and_needs_confirmation(sc: Any, jobs: dict[str, Any], tmp_path: Path) -> None:
    active = sc("job", "delete", jobs["alice"][:8], "--yes")
    assert active.exit_code == 5 and "only an ended job" in active.stderr and jobs["store"].get_job(jobs["alice"])
    jobs["queue"].cancel(jobs["alice"], "test")
    unconfirmed = sc("job", "delete", jobs["alice"][:8])  # CliRunner's stdin is not a terminal
    assert unconfirmed.exit_code == 2 and "--yes" in unconfirmed.stderr and jobs["store"].get_job(jobs["alice"])
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"log_dir": str(tmp_path)}))
    log = tmp_path / f"sc_job_{jobs['alice']}.log"
    log.write_text("line\n")
    done = sc(
        "--settings", str(settings), "job", "delete", jobs["alice"][:8], "--yes", "--reason", "test data", "--json"
    )
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["log_files"] == 1 and not log.exists()
    assert jobs["store"].get_job(jobs["alice"]) is None
    assert [e["to"] for e in jobs["store"].find_events(jobs["alice"])] == ["deleted"]
    gone = sc("job", "show", jobs["alice"])
    assert gone.exit_code == 4
