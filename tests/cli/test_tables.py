"""Tables that fit: short ids on one line with their whole status at 60 and 80 columns, numbers
right-aligned, durations as durations, ``--wide`` for whole ids."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sccli.cli.render import duration_text
from sccli.queue import JobQueue
from sccli.store import open_store
from tests.conftest import add_dataset

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def filled(tmp_path: Path) -> tuple[str, dict[str, str]]:
    url = f"sqlite:///{tmp_path / 'tables.db'}"
    store = open_store(url)
    store.ensure_schema()
    queue = JobQueue(store, actor="cli:test@host")
    statuses: dict[str, str] = {}
    for job_type in ("dataset_conversion", "data_compression", "google_sync"):
        job_id = queue.create_job(add_dataset(store), job_type)
        statuses[job_id] = "pending"
    cancelled = queue.create_job(add_dataset(store), "file_extraction")
    queue.cancel(cancelled, "test")
    statuses[cancelled] = "cancelled"
    return url, statuses


def terminal(url: str, columns: int, *args: str) -> str:
    env = {
        **os.environ, "COLUMNS": str(columns), "LINES": "50", "TTY_COMPATIBLE": "1", "NO_COLOR": "1",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("SC_DB_URL", None)
    out = subprocess.run(
        [sys.executable, "-m", "sccli", "--db", url, "job", "list", *args], capture_output=True, text=True, env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return re.sub(r"\x1b\[[0-9;]*m", "", out.stdout)  # bold headers stay under NO_COLOR


@pytest.mark.parametrize("columns", [60, 80])
def test_ids_and_statuses_never_fold(filled: tuple[str, dict[str, str]], columns: int) -> None:
    url, statuses = filled
    text = terminal(url, columns)
    assert max(len(line) for line in text.splitlines()) <= columns
    for job_id, status in statuses.items():
        rows = [line for line in text.splitlines() if job_id[:8] in line]
        assert len(rows) == 1 and f" {status}" in rows[0], text  # the short id and the whole status, on one line
        assert job_id not in text  # short ids unless --wide


def test_wide_shows_whole_ids(filled: tuple[str, dict[str, str]]) -> None:
    url, statuses = filled
    text = terminal(url, 160, "--wide")
    assert all(job_id in text for job_id in statuses)


def test_durations_read_as_durations() -> None:
    assert [duration_text(v) for v in (0.25, 4.2, 42, 1956, 18125, 277200)] == [
        "250ms", "4.2s", "42s", "32m36s", "5h02m", "3d05h",
    ]
    assert duration_text(None) == ""
