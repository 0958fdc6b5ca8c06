"""Cleanup: the contract's rule, the events and log files of deleted jobs, dry runs, never active jobs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sccli.errors import InvalidInput
from sccli.monitor import JobMonitor
from sccli.monitor import cleanup as cleanup_mod
from sccli.monitor.log_files import JobLogFiles, LogTally, log_name
from sccli.settings import Settings
from sccli.store.base import JobChange, JobQuery, Store
from tests.monitor.history import NOW, ago, insert, job


def build(store: Store) -> dict[str, list[str]]:
    groups = {
        "gone": insert(
            store, *[job(completed_at=ago(days=40)) for _ in range(3)],
            job(status="cancelled", completed_at=ago(days=31), duration=None),
            job(status="failed", completed_at=ago(days=61), error="x"),
        ),
        "kept": insert(
            store,
            *[job(completed_at=ago(days=20)) for _ in range(2)],
            *[job(status="failed", completed_at=ago(days=40), error="x") for _ in range(2)],
            job(status="pending", created_at=ago(days=90), duration=None),
            job(
                status="running", created_at=ago(days=90), started_at=ago(days=89), heartbeat_at=ago(days=89),
                duration=None,
            ),
        ),
    }
    for job_id in groups["gone"] + groups["kept"]:
        for step in ("created", "claimed"):
            store.insert_event(
                {
                    "job_id": job_id, "entity": "job", "from": None, "to": step, "at": ago(days=90), "actor": "test",
                    "reason": step,
                }
            )
    return groups


def test_dry_run_counts_and_deletes_nothing(store: Store) -> None:
    build(store)
    result = JobMonitor(store, clock=lambda: NOW).cleanup_old_data(30, dry_run=True)
    assert (result["completed_jobs_deleted"], result["failed_jobs_deleted"], result["cancelled_jobs_deleted"]) == (
        3, 1, 1,
    )
    assert result["job_events_deleted"] is None and result["dry_run"] is True
    assert store.count_jobs(JobQuery()) == 11


def test_cleanup_deletes_old_finished_jobs_and_their_events(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    groups = build(store)
    monkeypatch.setattr(cleanup_mod, "BATCH", 2)  # several rounds
    seen: list[tuple[int, int]] = []
    result = JobMonitor(store, clock=lambda: NOW).cleanup_old_data(
        30, progress=lambda done, total: seen.append((done, total))
    )
    assert (
        result["completed_jobs_deleted"] == 3
        and result["failed_jobs_deleted"] == 1
        and result["cancelled_jobs_deleted"] == 1
    )
    assert result["job_events_deleted"] == 10
    assert seen[-1] == (5, 5) and len(seen) == 4
    assert all(store.get_job(i) is None and store.find_events(i) == [] for i in groups["gone"])
    assert all(store.get_job(i) is not None and len(store.find_events(i)) == 2 for i in groups["kept"])
    again = JobMonitor(store, clock=lambda: NOW).cleanup_old_data(30)
    assert (
        again["completed_jobs_deleted"], again["failed_jobs_deleted"], again["cancelled_jobs_deleted"],
        again["job_events_deleted"],
    ) == (0, 0, 0, 0)


def test_a_job_retried_meanwhile_keeps_its_events(store: Store) -> None:
    old = insert(store, *[job(completed_at=ago(days=40)) for _ in range(2)])
    for job_id in old:
        store.insert_event(
            {
                "job_id": job_id, "entity": "job", "from": None, "to": "x", "at": ago(days=40), "actor": "t",
                "reason": "r",
            }
        )
    real_delete = store.delete_jobs

    def retry_then_delete(query: JobQuery) -> int:  # an operator retries the second job between read and delete
        store.update_job(old[1], {"status": "completed"}, JobChange(set={"status": "pending", "completed_at": None}))
        return real_delete(query)

    store.delete_jobs = retry_then_delete  # type: ignore[method-assign]
    cutoffs = cleanup_mod.cleanup_cutoffs(NOW, 30)
    out = cleanup_mod.delete_old_jobs(store, {"completed": cutoffs["completed"]}, 2)
    assert out == {"completed": 1, "events": 1}
    assert store.get_job(old[0]) is None and store.get_job(old[1])["status"] == "pending"
    assert len(store.find_events(old[1])) == 1


def test_days_must_be_positive(store: Store) -> None:
    with pytest.raises(InvalidInput):
        JobMonitor(store).cleanup_old_data(0)


# -- job log files ---------------------------------------------------------------------------
def write_log(log_dir: Path, job_id: str, text: str = "log line\n") -> Path:
    path = log_dir / f"sc_job_{job_id}.log"
    path.write_text(text)
    return path


def logs_setup(store: Store, tmp_path: Path) -> tuple[JobMonitor, Path, dict[str, list[str]]]:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    groups = build(store)
    for job_id in groups["gone"] + groups["kept"]:
        write_log(log_dir, job_id, "x" * 100)
    monitor = JobMonitor(store, settings=Settings(log_dir=str(log_dir)), clock=lambda: NOW)
    return monitor, log_dir, groups


def test_log_files_of_deleted_jobs_go_with_them(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monitor, log_dir, groups = logs_setup(store, tmp_path)
    neighbours = ["other.log", "sc_job_.log", f"sc_job_{groups['gone'][0]}.log.1", f"x_sc_job_{groups['gone'][0]}.log"]
    for name in neighbours:
        (log_dir / name).write_text("not ours")
    monkeypatch.setattr(cleanup_mod, "BATCH", 2)
    result = monitor.cleanup_old_data(30)
    assert (result["log_files_deleted"], result["log_bytes_deleted"], result["log_files_failed"]) == (5, 500, 0)
    assert result["log_dir"] == str(log_dir)
    assert not any((log_dir / f"sc_job_{i}.log").exists() for i in groups["gone"])
    # recent, failed < 60 d, pending, running
    assert all((log_dir / f"sc_job_{i}.log").read_text() == "x" * 100 for i in groups["kept"])
    assert all((log_dir / name).read_text() == "not ours" for name in neighbours)


def test_a_job_retried_meanwhile_keeps_its_log(store: Store, tmp_path: Path) -> None:
    old = insert(store, *[job(completed_at=ago(days=40)) for _ in range(2)])
    paths = [write_log(tmp_path, job_id) for job_id in old]
    real_delete = store.delete_jobs

    def retry_then_delete(query: JobQuery) -> int:
        store.update_job(old[1], {"status": "completed"}, JobChange(set={"status": "pending", "completed_at": None}))
        return real_delete(query)

    store.delete_jobs = retry_then_delete  # type: ignore[method-assign]
    result = cleanup_mod.cleanup(store, NOW, 30, log_dir=str(tmp_path))
    assert result["completed_jobs_deleted"] == 1 and result["log_files_deleted"] == 1
    assert not paths[0].exists() and paths[1].exists()


def test_a_link_named_like_a_job_log_is_removed_as_a_link(store: Store, tmp_path: Path) -> None:
    log_dir, outside = tmp_path / "logs", tmp_path / "precious"
    log_dir.mkdir()
    outside.mkdir()
    target = outside / "data.txt"
    target.write_text("keep me")
    linked, dir_named = insert(store, *[job(completed_at=ago(days=40)) for _ in range(2)])
    (log_dir / f"sc_job_{linked}.log").symlink_to(target)
    (log_dir / f"sc_job_{dir_named}.log").mkdir()  # not a log file: left alone
    (log_dir / f"sc_job_{dir_named}.log" / "inside").write_text("keep")
    result = cleanup_mod.cleanup(store, NOW, 30, log_dir=str(log_dir))
    assert (
        result["completed_jobs_deleted"] == 2 and result["log_files_deleted"] == 1 and result["log_bytes_deleted"] == 0
    )
    assert not (log_dir / f"sc_job_{linked}.log").is_symlink()
    assert target.read_text() == "keep me"
    assert (log_dir / f"sc_job_{dir_named}.log" / "inside").read_text() == "keep"


def test_log_dir_given_as_a_link_is_used_but_never_left(store: Store, tmp_path: Path) -> None:
    real = tmp_path / "real-logs"
    real.mkdir()
    (tmp_path / "logs").symlink_to(real)
    (gone,) = insert(store, job(completed_at=ago(days=40)))
    path = write_log(real, gone)
    assert cleanup_mod.cleanup(store, NOW, 30, log_dir=str(tmp_path / "logs"))["log_files_deleted"] == 1
    assert not path.exists() and real.is_dir()


def test_dry_run_counts_log_files_and_deletes_nothing(store: Store, tmp_path: Path) -> None:
    monitor, log_dir, groups = logs_setup(store, tmp_path)
    (log_dir / "sc_job_not-a-job.log").write_text("y" * 7)
    (log_dir / f"sc_job_{groups['gone'][0]}.log").unlink()
    (log_dir / f"sc_job_{groups['gone'][0]}.log").symlink_to(log_dir / "sc_job_not-a-job.log")
    before = sorted(p.name for p in log_dir.iterdir())
    result = monitor.cleanup_old_data(30, dry_run=True)
    # the link counts as a file of 0 bytes
    assert (result["log_files_deleted"], result["log_bytes_deleted"]) == (5, 400)
    assert sorted(p.name for p in log_dir.iterdir()) == before
    assert store.count_jobs(JobQuery()) == 11


def test_a_missing_log_dir_is_nothing_to_do(store: Store, tmp_path: Path) -> None:
    insert(store, job(completed_at=ago(days=40)))
    for dry_run in (True, False):
        result = cleanup_mod.cleanup(store, NOW, 30, dry_run=dry_run, log_dir=str(tmp_path / "nowhere"))
        assert result["log_files_deleted"] == 0 and result["log_files_failed"] == 0
    assert store.count_jobs(JobQuery()) == 0


def test_a_log_that_cannot_be_deleted_is_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_log(tmp_path, "j1")
    real_unlink = os.unlink

    def refuse(path: str, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "unlink", refuse)
    tally = LogTally()
    JobLogFiles(tmp_path).remove(["j1", "j2"], tally)
    monkeypatch.setattr(os, "unlink", real_unlink)
    assert (tally.files, tally.failed) == (0, 1) and "Permission denied" in (tally.first_error or "")


def test_log_names_are_exact_and_the_service_s() -> None:
    from sccli.service.child import job_log_path

    assert log_name("abc") == job_log_path("/x", "abc").name
    assert log_name("../etc/passwd") is None and log_name("") is None and log_name("a\0b") is None
