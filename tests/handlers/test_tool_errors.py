"""A failing tool's error is its last meaningful line (the full output stays in the job log), and
the failure signature groups on that line: tested with a captured rclone "no such host" output."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from sccli.errors import ScError
from sccli.monitor.signatures import error_signature, merge_groups
from sccli.tool_errors import last_error_line, summarize_failure

CAPTURED = Path(__file__).parent / "data" / "rclone_no_such_host.txt"


def fake_rclone(tmp_path: Path, output: Path, code: int = 1) -> Path:
    """A directory holding an ``rclone`` that prints ``output`` (as the real one did) and fails."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "rclone"
    script.write_text(f"#!/bin/sh\ncat '{output}'\nexit {code}\n")
    script.chmod(0o755)
    return bin_dir


def test_google_sync_error_is_the_last_meaningful_line(jobs, settings, tmp_path, monkeypatch, caplog) -> None:
    monkeypatch.setenv("PATH", f"{fake_rclone(tmp_path, CAPTURED)}{os.pathsep}{os.environ['PATH']}")
    source = Path(settings.in_data_dir) / "drive-folder"
    source.mkdir()
    with caplog.at_level(logging.INFO), pytest.raises(ScError) as failed:
        jobs.run("google_sync", rclone_source=str(source))
    error = str(failed.value)
    assert error.startswith("rclone failed with exit code 1: Failed to copy:"), error
    assert error.endswith("no such host") and len(error) < 400
    assert error.count("googleapis") <= 2 and "pageSize" not in error  # the URL cut to its host
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged.count("pageSize=1000") >= 7  # every line of the output is in the job log
    signature = error_signature(error)
    assert signature.endswith("no such host"), signature


def test_signature_groups_by_cause_not_by_url() -> None:
    lines = CAPTURED.read_text().splitlines()
    other = [line.replace("trashed%3Dfalse", "name%3D%27x%27").replace("10.255.255.53", "127.0.0.53") for line in lines]
    errors = [summarize_failure("rclone", 1, lines), summarize_failure("rclone", 1, other)]
    now = None
    groups = merge_groups([
        {"job_type": "google_sync", "error": e, "count": 1, "first_seen": now, "last_seen": now, "retry_available": 1}
        for e in errors
    ])
    assert len(groups) == 1 and groups[0]["count"] == 2
    assert "no such host" in groups[0]["signature"]


def test_errors_stored_before_as_a_joined_tail_group_on_the_cause() -> None:
    tail = CAPTURED.read_text().splitlines()[-5:]
    old = "rclone failed with exit code 1: " + " | ".join(tail)
    assert error_signature(old) == error_signature(summarize_failure("rclone", 1, tail))


@pytest.mark.parametrize(("lines", "expected"), [
    (["rsync: connection unexpectedly closed (0 bytes received so far) [sender]",
      "rsync error: error in rsync protocol data stream (code 12) at io.c(232) [sender=3.2.7]"],
     "rsync error: error in rsync protocol data stream (code 12) at io.c(232) [sender=3.2.7]"),
    (["Transferred: 0 B / 0 B", "2024/05/01 10:00:00 ERROR : a.txt: Failed to copy: permission denied", "Errors: 1",
      "Elapsed time: 1.0s"], "a.txt: Failed to copy: permission denied"),
    (["progress 10%", "progress 20%"], "progress 20%"),
    ([], ""),
])
def test_last_error_line(lines: list[str], expected: str) -> None:
    assert last_error_line(lines) == expected
