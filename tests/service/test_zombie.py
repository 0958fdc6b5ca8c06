"""Attempts never share files: a paused ("zombie") service wakes up after another service re-claimed
and finished its job, and neither corrupts nor deletes the second attempt's output."""

from __future__ import annotations

import signal
from pathlib import Path

import psutil

from sccli.service import procs
from tests.conftest import StoreSpec
from tests.service.conftest import make_queue, new_job, process_gone, wait_for, write_settings
from tests.service.plugins import attempt_content


def freeze(pid: int, sig: int) -> list[psutil.Process]:
    """Send ``sig`` (SIGSTOP/SIGCONT) to a service and everything below it (template, job child)."""
    tree = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    for proc in tree:
        proc.send_signal(sig)
    return tree


def test_a_zombie_attempt_cannot_touch_the_output_of_the_attempt_that_replaced_it(
    sqlite_spec: StoreSpec, tmp_path: Path, services
) -> None:
    settings = write_settings(tmp_path, stale_after_seconds=1.0, heartbeat_seconds=0.1)
    queue = make_queue(sqlite_spec.open())
    out = tmp_path / "out"
    final = out / "result.txt"
    job_id = new_job(
        queue, "staged_write", parameters={"output_path": str(final), "chunks": 20, "chunk_sleep": 0.05}, max_attempts=3
    )
    first = services(sqlite_spec, settings)
    partial = wait_for(
        lambda: next(iter(out.glob(".result.txt.sc-partial-*")), None), what="the first attempt's partial"
    )
    first_attempt = partial.name.split(".sc-partial-")[1]
    frozen = freeze(first.pid, signal.SIGSTOP)
    assert partial.stat().st_size < len(attempt_content(first_attempt, 20))  # stopped mid-write

    second = services(sqlite_spec, settings, "--until-idle")
    assert second.wait() == 0, second.log()
    job = queue.get_job(job_id)
    assert job["status"] == "completed" and job["pid"] == second.pid and job["attempts"] == 2
    second_attempt = job["result"]["attempt"]
    assert second_attempt != first_attempt and second_attempt.startswith(job_id)
    expected = attempt_content(second_attempt, 20)
    assert final.read_bytes() == expected

    freeze(first.pid, signal.SIGCONT)
    # the first service learns its lease is gone, stops its attempt and removes that attempt's partial
    wait_for(lambda: "lease lost" in first.log() and not partial.exists(), what="the zombie attempt to give up")
    # template, forker
    wait_for(lambda: len(psutil.Process(first.pid).children(recursive=True)) <= 2, what="the zombie's job child to end")
    assert final.read_bytes() == expected  # byte for byte the second attempt's
    assert sorted(p.name for p in out.iterdir()) == ["result.txt"]  # nothing of either attempt's partials
    assert [p for p in procs.tagged_processes("SC_ATTEMPT", first_attempt) if not process_gone(p)] == []
    after = queue.get_job(job_id)
    assert (
        after["status"] == "completed" and after["result"]["attempt"] == second_attempt and after["pid"] == second.pid
    )
    first.proc.send_signal(signal.SIGTERM)
    assert first.wait() == 0, first.log()
    assert all(process_gone(p.pid) for p in frozen)


def test_an_attempt_that_lost_its_lease_is_refused_at_promotion(
    sqlite_spec: StoreSpec, tmp_path: Path, services
) -> None:
    # heartbeats too rare to notice: only the promotion gate stands between the attempt and the output
    settings = write_settings(tmp_path, heartbeat_seconds=30, stale_after_seconds=120)
    store = sqlite_spec.open()
    queue = make_queue(store)
    final, go = tmp_path / "out" / "result.txt", tmp_path / "go"
    job_id = new_job(
        queue, "staged_write",
        parameters={"output_path": str(final), "chunks": 2, "chunk_sleep": 0.01, "go_file": str(go)},
    )
    service = services(sqlite_spec, settings)
    wait_for(lambda: next(iter(final.parent.glob(".result.txt.sc-partial-*")), None), what="the partial")
    from sccli.store.base import JobChange

    assert (
        store.update_job(job_id, {"status": "running"}, JobChange(set={"lease_token": "taken-by-an-administrator"}))
        is not None
    )
    go.write_text("go")
    wait_for(lambda: "refused to put" in service.log(), what="the refusal")
    wait_for(lambda: not any(final.parent.glob(".*sc-partial-*")), what="the refused attempt's partial to be removed")
    assert not final.exists()
    job = queue.get_job(job_id)
    assert job["status"] == "running" and job["lease_token"] == "taken-by-an-administrator"  # nothing recorded over it
    service.proc.send_signal(signal.SIGTERM)
    assert service.wait() == 0, service.log()
