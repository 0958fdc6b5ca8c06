"""`sc job cancel/retry` by id and by filter, `purge`, `logs`, `wait`, `show` extras, honest `list`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sccli.cli import confirm
from sccli.clock import utcnow
from sccli.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_CONFLICT
from sccli.queue import JobQueue
from sccli.store import open_store
from sccli.store.base import JobChange
from tests.conftest import add_dataset


@pytest.fixture
def queue(db_url: str) -> JobQueue:
    store = open_store(db_url)
    store.ensure_schema()
    return JobQueue(store, actor="cli:test@host", retry_base_seconds=0.0, retry_max_seconds=0.0)


def jobs(queue: JobQueue, n: int, job_type: str = "data_validation") -> list[str]:
    return [queue.create_job(add_dataset(queue.store), job_type) for _ in range(n)]


def fail(queue: JobQueue, job_type: str = "data_validation") -> str:
    claimed = queue.claim_next("w", types=[job_type])
    assert claimed is not None
    queue.fail(claimed["job_id"], claimed["lease_token"], "tool exploded", retry=False)
    return str(claimed["job_id"])


def status(queue: JobQueue, job_id: str) -> str:
    return str(queue.require_job(job_id)["status"])


def test_cancel_several_ids_reports_each_refusal(sc: Any, queue: JobQueue) -> None:
    a, b = jobs(queue, 2)
    out = sc("job", "cancel", a, b, "nope", "--reason", "maintenance")
    assert out.exit_code == EXIT_CHECK_FAILED
    assert "2 job(s) done, 1 refused" in out.stdout and "refused nope: job nope not found" in out.stderr
    assert status(queue, a) == status(queue, b) == "cancelled"
    single = sc("job", "cancel", a)  # one named job keeps its own error and exit code
    assert single.exit_code == EXIT_CONFLICT and single.stderr.startswith("Error: job ")


def test_cancel_by_filter_needs_yes_without_a_terminal(sc: Any, queue: JobQueue) -> None:
    old = jobs(queue, 3)
    fresh = jobs(queue, 1)[0]
    other = jobs(queue, 1, "backup_creation")[0]
    for job_id in old:
        queue.store.update_job(job_id, {}, JobChange(set={"created_at": utcnow() - timedelta(hours=3)}))
    refused = sc("job", "cancel", "--type", "data_validation", "--older-than", "2h")
    assert refused.exit_code == EXIT_BAD_INPUT and "--yes" in refused.stderr
    assert all(status(queue, j) == "pending" for j in old)
    preview = sc("job", "cancel", "--type", "data_validation", "--older-than", "2h", "--dry-run", "--json")
    assert sorted(json.loads(preview.stdout)["job_ids"]) == sorted(old)
    done = sc("job", "cancel", "--type", "data_validation", "--older-than", "2h", "--yes", "--json")
    assert done.exit_code == 0, done.output
    assert sorted(json.loads(done.stdout)["done"]) == sorted(old)
    assert [status(queue, j) for j in (*old, fresh, other)] == ["cancelled"] * 3 + ["pending", "pending"]


def test_filter_confirmation_on_a_terminal(sc: Any, queue: JobQueue, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(confirm, "interactive", lambda: True)
    ids = jobs(queue, 2)
    no = sc("job", "cancel", "--status", "pending", input="n\n")
    assert no.exit_code != 0 and "Cancel 2 job(s)" in no.stderr
    assert all(status(queue, j) == "pending" for j in ids)
    yes = sc("job", "cancel", "--status", "pending", input="y\n")
    assert yes.exit_code == 0 and all(status(queue, j) == "cancelled" for j in ids)


def test_selection_refusals(sc: Any, queue: JobQueue) -> None:
    job_id = jobs(queue, 1)[0]
    assert sc("job", "cancel").exit_code == EXIT_BAD_INPUT
    assert sc("job", "cancel", job_id, "--type", "data_validation").exit_code == EXIT_BAD_INPUT
    wrong = sc("job", "cancel", "--status", "completed", "--yes")
    assert wrong.exit_code == EXIT_BAD_INPUT and "'completed' is not one of 'pending', 'running'" in wrong.stderr
    bad = sc("job", "retry", "--status", "done")
    assert bad.exit_code == EXIT_BAD_INPUT and "'failed', 'cancelled'" in bad.stderr  # the choices are listed
    assert "<failed|cancelled>" in sc("job", "retry", "--help").stdout
    assert sc("job", "retry", "--older-than", "soon").exit_code == EXIT_BAD_INPUT


def test_retry_by_filter(sc: Any, queue: JobQueue) -> None:
    jobs(queue, 2)
    failed = [fail(queue), fail(queue)]
    out = sc("job", "retry", "--status", "failed", "--yes")
    assert out.exit_code == 0 and "retry: 2 job(s) done" in out.stdout
    assert [status(queue, j) for j in failed] == ["pending", "pending"]


def test_purge(sc: Any, queue: JobQueue, monkeypatch: pytest.MonkeyPatch) -> None:
    doomed = jobs(queue, 2, "google_sync")
    kept = jobs(queue, 1)[0]
    dry = sc("job", "purge", "--type", "google_sync", "--dry-run")
    assert dry.exit_code == 0 and "would purge 2" in dry.stderr and queue.get_job(doomed[0]) is not None
    assert sc("job", "purge", "--type", "google_sync").exit_code == EXIT_BAD_INPUT
    out = sc("job", "purge", "--type", "google_sync", "--yes", "--json")
    assert sorted(json.loads(out.stdout)["purged"]) == sorted(doomed)
    assert queue.get_job(doomed[0]) is None and status(queue, kept) == "pending"
    assert any(e["to"] == "purged" and e["actor"].startswith("cli:") for e in queue.store.find_events(doomed[0]))


def test_logs_from_file_and_from_store(sc: Any, queue: JobQueue, tmp_path: Path) -> None:
    settings = tmp_path / "s.json"
    settings.write_text(json.dumps({"log_dir": str(tmp_path)}))
    job_id = jobs(queue, 1)[0]
    queue.add_log(job_id, "kept in the store")
    from_store = sc("--settings", str(settings), "job", "logs", job_id)
    assert (
        from_store.exit_code == 0 and from_store.stdout == "kept in the store\n" and "no log file" in from_store.stderr
    )
    (tmp_path / f"sc_job_{job_id}.log").write_text("a\nb\nc\n")
    tail = sc("--settings", str(settings), "job", "logs", job_id, "--tail", "2")
    assert tail.stdout == "b\nc\n"
    shown = sc("--settings", str(settings), "job", "show", job_id)
    assert f"Log: {tmp_path / f'sc_job_{job_id}.log'}" in shown.stdout


def test_show_has_a_progress_bar_for_a_running_job(sc: Any, queue: JobQueue) -> None:
    jobs(queue, 1)
    claimed = queue.claim_next("w", types=["data_validation"])
    assert claimed is not None
    queue.heartbeat(claimed["job_id"], claimed["lease_token"], 40, "checksums")
    shown = sc("job", "show", claimed["job_id"])
    assert "Progress: [" + "█" * 12 + "░" * 18 + "]  40%  checksums" in shown.stdout


def test_wait_exit_codes(sc: Any, queue: JobQueue) -> None:
    job_id = jobs(queue, 1)[0]
    timed_out = sc("job", "wait", job_id, "--timeout", "0.1")
    assert timed_out.exit_code == EXIT_CHECK_FAILED and "timed out" in timed_out.stderr
    fail(queue)
    failed = sc("job", "wait", job_id)
    assert failed.exit_code == EXIT_CHECK_FAILED and "failed: tool exploded" in failed.stdout
    other = jobs(queue, 1)[0]
    claimed = queue.claim_next("w", types=["data_validation"])
    assert claimed is not None and claimed["job_id"] == other
    queue.complete(other, claimed["lease_token"], {})
    assert sc("job", "wait", other, "--timeout", "5").exit_code == 0


def test_list_says_when_it_is_cut(sc: Any, queue: JobQueue) -> None:
    jobs(queue, 4)
    cut = sc("job", "list", "--limit", "3", "--format", "csv")
    assert cut.stderr.strip() == "showing 3 of 4; --limit N or --all for more"
    assert len(cut.stdout.strip().splitlines()) == 1 + 3
    everything = sc("job", "list", "--limit", "3", "--all", "--json")
    assert len(json.loads(everything.stdout)["items"]) == 4 and everything.stderr == ""
    assert sc("job", "list", "--limit", "4").stderr == ""


def test_duplicate_names_the_existing_job(sc: Any, queue: JobQueue) -> None:
    dataset = add_dataset(queue.store)
    first = queue.create_job(dataset, "data_validation")
    dup = sc("job", "create", "--dataset", dataset, "--type", "data_validation")
    assert dup.exit_code == EXIT_CONFLICT and first in dup.stderr and "--allow-duplicate" in dup.stderr


def test_status_choices_are_in_the_help(sc: Any) -> None:
    help_text = sc("job", "list", "--help").stdout
    assert "pending|running|completed|failed|cancelled" in help_text


def test_dataset_list_says_when_it_is_cut(sc: Any, queue: JobQueue) -> None:
    for _ in range(3):
        add_dataset(queue.store, "conversion error")
    add_dataset(queue.store, "done")
    cut = sc("dataset", "list", "--status", "conversion error", "--limit", "2", "--json")
    assert (
        json.loads(cut.stdout)["total"] == 3
        and len(json.loads(cut.stdout)["items"]) == 2
        and cut.stderr.strip() == "showing 2 of 3; --limit N or --all for more"
    )
    assert len(json.loads(sc("dataset", "list", "--limit", "2", "--all", "--json").stdout)["items"]) == 4
    assert "conversion queued" in sc("dataset", "list", "--help").stdout  # the statuses are listed


def test_logs_follow_from_the_store_when_the_job_runs_elsewhere(sc: Any, queue: JobQueue, tmp_path: Path) -> None:
    import threading
    import time

    settings = tmp_path / "s.json"
    settings.write_text(json.dumps({"log_dir": str(tmp_path / "elsewhere")}))
    job_id = jobs(queue, 1)[0]
    queue.add_log(job_id, "before")

    def other_host() -> None:
        claimed = queue.claim_next("remote", types=["data_validation"])
        assert claimed is not None
        for i in range(3):
            time.sleep(0.1)
            queue.add_log(job_id, f"remote line {i}")
        queue.complete(job_id, claimed["lease_token"], {})

    thread = threading.Thread(target=other_host)
    thread.start()
    out = sc("--settings", str(settings), "job", "logs", job_id, "--follow")
    thread.join()
    assert out.exit_code == 0
    assert out.stdout.splitlines() == ["before", "remote line 0", "remote line 1", "remote line 2"]
    assert f"job {job_id} completed" in out.stderr
