"""tar.zst archives written through a ``zstd`` process (data_compression and backup): the same
members, bytes and checksums as with the zstandard module; zstd's worker threads follow the job's
``threads`` or the ``compression_threads`` setting and never exceed the cores; a zstd that fails
fails the attempt with its own words and leaves no partial archive and no process behind."""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import shutil
import signal
import tarfile
from pathlib import Path

import psutil
import pytest
from msgspec.structs import replace

from sccli.handlers import zstdpipe
from sccli.handlers.base import HandlerError
from sccli.handlers.idxzip import available_cores
from sccli.handlers.zstdpipe import compression_threads
from tests.handlers.conftest import has_partial, need_tool

zstandard = pytest.importorskip("zstandard")


def dataset(root: Path) -> dict[str, bytes]:
    """Files of several sizes (one larger than zstd's pipe) in nested directories."""
    files = {"a.txt": b"hello " * 1000, "sub/b.bin": os.urandom(3 * zstdpipe.PIPE_BYTES + 17), "sub/deep/c": b"",
             "d.bin": os.urandom(999)}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def members(archive: Path) -> dict[str, bytes]:
    plain = zstandard.ZstdDecompressor().stream_reader(archive.read_bytes(), read_across_frames=True).read()
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r:") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isreg()}  # type: ignore[union-attr]


def logging_zstd(tmp_path: Path) -> tuple[str, Path]:
    """A ``zstd`` that records its arguments, then runs the real one."""
    need_tool("zstd")
    record = tmp_path / "zstd-args"
    script = tmp_path / "bin" / "zstd"
    script.parent.mkdir()
    script.write_text(f'#!/bin/sh\necho "$@" >> {record}\nexec {shutil.which("zstd")} "$@"\n')
    script.chmod(0o755)
    return str(script), record


@pytest.mark.parametrize("way", ["zstd-command", "zstandard-module"])
def test_the_archive_holds_the_same_bytes_either_way(jobs, monkeypatch, way: str) -> None:
    if way == "zstd-command":
        need_tool("zstd")
    else:
        monkeypatch.setattr(zstdpipe, "zstd_command", lambda: None)
    jobs.input_dir.mkdir()
    files = dataset(jobs.input_dir)
    result = jobs.run("data_compression")
    archive = Path(result["archive"])
    assert result["archive_sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert result["archive_bytes"] == archive.stat().st_size
    assert members(archive) == {f"{jobs.uuid}/{rel}": data for rel, data in files.items()}
    for rel, data in files.items():
        assert result["file_checksums"][f"{jobs.uuid}/{rel}"] == hashlib.sha256(data).hexdigest()
    manifest = json.loads(Path(result["manifest"]).read_text())
    assert manifest["archive_sha256"] == result["archive_sha256"]


def test_threads_follow_the_job_then_the_setting_and_never_pass_the_cores() -> None:
    cores = available_cores()
    assert compression_threads(None, 0) == cores
    assert compression_threads(None, 1) == 1
    assert compression_threads(None, cores + 7) == cores
    assert compression_threads(0, 5) == 0  # a job asking for none gets none
    assert compression_threads(64, 1) == cores


def test_zstd_runs_with_the_threads_the_setting_allows(jobs, tmp_path, monkeypatch) -> None:
    tool, record = logging_zstd(tmp_path)
    monkeypatch.setattr(zstdpipe, "zstd_command", lambda: tool)
    jobs.input_dir.mkdir()
    files = dataset(jobs.input_dir)
    jobs.settings = replace(jobs.settings, compression_threads=1)
    jobs.run("data_compression", level=5)
    jobs.run("data_compression", threads=64, output_path=str(Path(jobs.settings.out_data_dir) / "many.tar.zst"))
    calls = [line.split() for line in record.read_text().splitlines()]
    assert calls == [["-5", "-T1", "-q", "-c"], ["-3", f"-T{available_cores()}", "-q", "-c"]]
    expected = {f"{jobs.uuid}/{rel}": data for rel, data in files.items()}
    assert members(Path(jobs.settings.out_data_dir) / "many.tar.zst") == expected


def test_a_backup_compresses_with_the_setting_s_threads(jobs, tmp_path, monkeypatch) -> None:
    tool, record = logging_zstd(tmp_path)
    monkeypatch.setattr(zstdpipe, "zstd_command", lambda: tool)
    jobs.input_dir.mkdir()
    dataset(jobs.input_dir)
    jobs.settings = replace(jobs.settings, compression_threads=1)
    result = jobs.run("backup_creation")
    assert result["status"] == "success"
    calls = [line.split() for line in record.read_text().splitlines()]
    assert len(calls) == 1 and "-T1" in calls[0]


def test_a_failing_zstd_fails_the_attempt_and_leaves_nothing(jobs, tmp_path, monkeypatch) -> None:
    broken = tmp_path / "bin" / "zstd"
    broken.parent.mkdir()
    broken.write_text("#!/bin/sh\nhead -c 100000 > /dev/null\n"
                      "echo 'zstd: error 70 : Write error : No space left' >&2\nexit 70\n")
    broken.chmod(0o755)
    monkeypatch.setattr(zstdpipe, "zstd_command", lambda: str(broken))
    jobs.input_dir.mkdir()
    dataset(jobs.input_dir)
    with pytest.raises(HandlerError, match="zstd failed: .*No space left"):
        jobs.run("data_compression")
    out = Path(jobs.settings.out_data_dir)
    assert not any(out.iterdir()) and not has_partial(out)
    assert not [p for p in psutil.Process().children(recursive=True) if p.status() != "zombie"]


def _write_into_a_dead_zstd(answers) -> None:  # type: ignore[no-untyped-def]
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # as a job child runs
    writer = zstdpipe.ZstdPipeWriter(shutil.which("zstd") or "zstd", io.BytesIO(), level=1, threads=1)
    answers.put(str(signal.getsignal(signal.SIGPIPE)))
    writer.proc.kill()
    writer.proc.wait()
    try:
        writer._write_some(memoryview(b"x" * 65536))  # what a write between poll and zstd's death meets
        answers.put("no error")
    except HandlerError as exc:
        answers.put(f"HandlerError: {exc}")
    answers.put(str(signal.getsignal(signal.SIGPIPE)))


def test_writing_into_a_zstd_that_died_is_an_error_not_a_sigpipe() -> None:
    """A job child dies of SIGPIPE by default: writing into a zstd that is gone must end in an
    error the attempt reports, and the job's own SIGPIPE action comes back afterwards."""
    need_tool("zstd")
    context = multiprocessing.get_context("fork")
    answers = context.Queue()
    child = context.Process(target=_write_into_a_dead_zstd, args=(answers,))
    child.start()
    child.join(60)
    assert child.exitcode == 0, f"the writer died (exit {child.exitcode}; -13 is SIGPIPE)"
    assert answers.get(timeout=5) == str(signal.SIG_IGN)
    assert answers.get(timeout=5).startswith("HandlerError: zstd failed")
    assert answers.get(timeout=5) == str(signal.SIG_DFL)
