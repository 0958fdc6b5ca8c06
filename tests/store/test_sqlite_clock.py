"""The SQLite store's clock is the database file's: a host clock 60 s off is corrected by the
offset to the file system's write stamp; small offsets (the stamp's coarse granularity) are
not corrections; the clock file takes the database's mode."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

import sccli.store.sqlite_clock as clock_module
from sccli.clock import utcnow
from sccli.store.sqlite import SqliteStore


@pytest.mark.parametrize("skew", [timedelta(seconds=60), timedelta(seconds=-60)])
def test_a_skewed_host_clock_is_corrected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, skew: timedelta) -> None:
    store = SqliteStore(tmp_path / "sc.db")
    store.ensure_schema()
    import sccli.clock

    def skewed() -> object:
        return utcnow() + skew

    monkeypatch.setattr(sccli.clock, "utcnow", skewed)  # this host's clock, off by skew, for everyone
    monkeypatch.setattr(clock_module, "utcnow", skewed)
    assert abs((store.now() - utcnow()).total_seconds()) < 1.0  # the file's clock, not the host's
    assert abs((store._clock.offset + skew).total_seconds()) < 1.0
    store.close()


def test_a_true_host_clock_is_left_alone_and_the_clock_file_is_like_the_database(tmp_path: Path) -> None:
    db = tmp_path / "sc.db"
    store = SqliteStore(db)
    store.ensure_schema()
    os.chmod(db, 0o640)
    (tmp_path / "sc.db-clock").unlink(missing_ok=True)
    store._clock._checked = -1e9  # measure again
    before = utcnow()
    now = store.now()
    assert store._clock.offset == timedelta(0) and before <= now <= utcnow()  # same kernel: no correction
    assert (tmp_path / "sc.db-clock").stat().st_mode & 0o777 == 0o640
    store.close()


def test_no_database_no_clock_file(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "absent.db", create=False)
    assert store.now() is not None
    assert not list(tmp_path.iterdir())  # a read command creates nothing
