"""SQLite on a full disk is the store being unavailable (exit 3, one line), not an internal error."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sccli.errors import StoreUnavailable
from sccli.store import open_store
from tests.service.conftest import ROOT, service_env


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(directory: Path) -> None:
    with (directory / "filler").open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass


def _sc(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "sccli", "--db", f"sqlite:///{db}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=service_env(), cwd=ROOT, timeout=60)


def test_full_disk_is_reported_as_the_store_being_unavailable(small_disk: Path) -> None:
    db = small_disk / "sc.db"
    dataset = str(uuid.uuid4())
    assert _sc(db, "dataset", "add", "--uuid", dataset).returncode == 0
    _fill(small_disk)
    done = _sc(db, "dataset", "add", "--uuid", str(uuid.uuid4()), "--name", "x" * 100_000)
    assert done.returncode == 3, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in done.stderr, done.stderr
    assert "full" in lines[0] or "disk" in lines[0]
    store = open_store(f"sqlite:///{db}")
    with pytest.raises(StoreUnavailable):
        for _ in range(50):
            store.insert_dataset({"uuid": str(uuid.uuid4()), "status": "submitted", "blob": "y" * 100_000})
    (small_disk / "filler").unlink()
    assert _sc(db, "job", "list", "--json").returncode == 0  # the store works again once there is room
