"""Job logs are bounded: an attempt that prints far more than ``job_log_max_bytes`` (itself and
through a tool) adds at most the cap and one marker line, keeping how it started and how it ended;
the end of each attempt's log is kept in the job's ``logs`` too; a permanent error says so."""

from __future__ import annotations

from pathlib import Path

from sccli.service.joblog import SUMMARY_BYTES, LogPump
from tests.conftest import StoreSpec
from tests.service.conftest import make_queue, new_job, write_settings

CAP = 64 * 1024
MARKER_ROOM = 200


def test_an_attempt_flooding_its_log_writes_at_most_the_cap(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    queue = make_queue(sqlite_spec.open())
    job_id = new_job(queue, "flood", parameters={"bytes": 4 * 1024 * 1024})  # 8 MiB in all, 128 times the cap
    service = services(sqlite_spec, write_settings(tmp_path, job_log_max_bytes=CAP), "--until-idle")
    assert service.wait() == 0, service.log()
    job = queue.get_job(job_id)
    assert job["status"] == "completed"
    log = (tmp_path / "logs" / f"sc_job_{job_id}.log").read_bytes()
    assert len(log) <= CAP + MARKER_ROOM
    assert log.startswith(b"20") and f"job {job_id} (flood) attempt 1".encode() in log[:400]  # the head is kept
    assert b"bytes of output left out here (job_log_max_bytes = 65536)" in log
    assert b"THE END of the flood" in log[-CAP // 2:] and b"handler finished: flooded" in log[-1000:]  # the tail too
    assert b"tool xxxx" in log  # the tool's output went through the same cap
    entry = job["logs"][-1]
    assert entry["message"].startswith("attempt 1 on ") and "exit code 0" in entry["message"]
    assert "THE END of the flood" in entry["message"] and len(entry["message"]) <= 4096


def test_a_permanent_error_is_reported_with_its_kind(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    queue = make_queue(sqlite_spec.open())
    job_id = new_job(queue, "permanent", max_attempts=1)
    service = services(sqlite_spec, write_settings(tmp_path), "--until-idle")
    assert service.wait() == 0, service.log()
    job = queue.get_job(job_id)
    assert job["status"] == "failed" and job["errors"][-1]["kind"] == "permanent" and "will never work" in job["error"]
    assert "PermanentError" in job["logs"][-1]["message"]  # the traceback's end, from the attempt's log


def test_log_pump_keeps_head_marker_and_tail(tmp_path: Path) -> None:
    path = tmp_path / "job.log"
    pump = LogPump(path, 1000)
    for i in range(500):
        pump.feed(f"line {i:05d}\n".encode())
    pump.finish()
    text = path.read_text()
    assert text.startswith("line 00000\n") and text.endswith("line 00499\n")
    assert "bytes of output left out here" in text and len(text) <= 1000 + MARKER_ROOM
    assert pump.summary().splitlines() == [f"line {i:05d}" for i in range(480, 500)]
    small = LogPump(tmp_path / "small.log", 1000)
    small.feed(b"short\n")
    small.finish()
    assert (tmp_path / "small.log").read_text() == "short\n"
    unlimited = LogPump(tmp_path / "all.log", 0)
    unlimited.feed(b"z" * (3 * SUMMARY_BYTES))
    unlimited.finish()
    assert (tmp_path / "all.log").stat().st_size == 3 * SUMMARY_BYTES
