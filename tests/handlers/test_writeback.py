"""An archive is made durable as it is written: background syncs while it grows, one fsync at the
end, and a background sync's error is never lost (Linux reports a writeback error once)."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest

from sccli.handlers.writeback import Writeback


def test_syncs_start_while_the_file_grows_and_the_end_is_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, int]] = []
    real_fdatasync, real_fsync = os.fdatasync, os.fsync

    def fdatasync(fd: int) -> None:
        where = "background" if threading.current_thread().name == "sc-writeback" else "main"
        calls.append((where, os.fstat(fd).st_size))
        real_fdatasync(fd)

    def fsync(fd: int) -> None:
        calls.append(("fsync", os.fstat(fd).st_size))
        real_fsync(fd)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    monkeypatch.setattr(os, "fsync", fsync)
    target = tmp_path / "archive"
    with open(target, "wb") as raw, Writeback(raw, every=1000) as durable:
        for _ in range(10):
            durable.write(b"x" * 700)
            durable._join()  # one sync at a time: let each finish, so every stretch starts one
        synced_before_end = list(calls)
        durable.finish()
    assert [kind for kind, _ in synced_before_end] == ["background"] * 5, synced_before_end
    assert all(size > 0 for _, size in synced_before_end)  # what was written was flushed to the file first
    assert calls[-1] == ("fsync", 7000)
    assert target.read_bytes() == b"x" * 7000


def test_an_error_of_a_background_sync_is_raised_at_the_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", failing)
    fsyncs: list[int] = []
    monkeypatch.setattr(os, "fsync", fsyncs.append)  # the final fsync would succeed: the error was reported once
    with open(tmp_path / "archive", "wb") as raw, Writeback(raw, every=10) as durable:
        durable.write(b"y" * 20)
        with pytest.raises(OSError, match="Input/output error"):
            durable.finish()
    assert fsyncs == []


def test_a_sync_in_flight_is_waited_for_before_the_file_closes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception half-way leaves no sync running on a closed (and maybe reused) descriptor."""
    release = threading.Event()
    seen: list[int] = []

    def slow(fd: int) -> None:
        release.wait(5)
        seen.append(os.fstat(fd).st_size)  # EBADF here if the file had been closed under it

    monkeypatch.setattr(os, "fdatasync", slow)
    with pytest.raises(RuntimeError), open(tmp_path / "archive", "wb") as raw, Writeback(raw, every=1) as durable:
        durable.write(b"z")
        threading.Timer(0.05, release.set).start()
        raise RuntimeError("the job failed half-way")
    assert seen == [1]
