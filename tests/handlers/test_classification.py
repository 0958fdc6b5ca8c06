"""Refusals are permanent (no retry), failures that may pass are transient: per handler."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sccli.errors import ScError, is_permanent
from sccli.handlers.tools import MissingTool
from tests.handlers.conftest import Jobs, need_tool


def fake_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, code: int, output: str = "it broke") -> None:
    """Put a ``name`` first on PATH that prints ``output`` and exits ``code``."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / name
    script.write_text(f"#!/bin/sh\necho '{output}'\nexit {code}\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def no_tool(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: None if cmd == name else real(cmd, *a, **k))


def dataset(jobs: Jobs) -> Path:
    jobs.input_dir.mkdir(exist_ok=True)
    (jobs.input_dir / "a.txt").write_text("a")
    return jobs.input_dir


def damaged(jobs: Jobs, name: str, data: bytes = b"\x00garbage" * 50) -> Path:
    path = dataset(jobs) / name
    path.write_bytes(data)
    return path


def tar_with(jobs: Jobs, names: list[str]) -> Path:
    """A tar whose members have these names (each a one-byte file)."""
    import io
    import tarfile

    path = dataset(jobs) / "hostile.tar"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    return path


def zip_with(jobs: Jobs, names: list[str]) -> Path:
    import zipfile

    path = dataset(jobs) / "hostile.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            zf.writestr(name, "x")
    return path


Build = Callable[[Jobs, Path, pytest.MonkeyPatch], dict[str, Any]]


def extracting(archive: Callable[[Jobs], Path]) -> Build:
    """Parameters of an extraction of the archive ``archive(jobs)`` writes."""
    return lambda j, t, m: {"archive_path": str(archive(j))}


def rsync_exiting(code: int, output: str) -> Build:
    """Parameters of a local copy by an rsync that prints ``output`` and exits ``code``."""
    def build(jobs: Jobs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
        fake_tool(tmp_path, monkeypatch, "rsync", code, output)
        return {"source": str(dataset(jobs)), "destination": str(jobs.output_dir)}
    return build


def sync_with_key(key: str) -> Build:
    """A Drive sync whose service-account key file holds ``key`` (the rclone there fails transiently)."""
    def build(jobs: Jobs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
        fake_tool(tmp_path, monkeypatch, "rclone", 5)
        (Path(jobs.settings.auth_dir) / "sa.json").write_text(key)
        return {"data_url": "1AbCdEfGhIjKlMnOp"}
    return build


Case = tuple[str, Build, bool]

CASES: dict[str, Case] = {
    # refusals: permanent
    "extraction damaged zip": ("file_extraction", lambda j, t, m: {"archive_path": str(damaged(j, "x.zip"))}, True),
    "extraction damaged tar.gz": (
        "file_extraction",
        lambda j, t, m: {"archive_path": str(damaged(j, "x.tar.gz"))},
        True,
    ),
    "extraction no archive": ("file_extraction", lambda j, t, m: {"input_path": str(dataset(j))}, True),
    "extraction bad limit": ("file_extraction", lambda j, t, m: {"max_ratio": "big"}, True),
    "extraction outside": ("file_extraction", lambda j, t, m: {"archive_path": "/etc/passwd.zip"}, True),
    "conversion damaged npy": (
        "dataset_conversion",
        lambda j, t, m: (damaged(j, "a.npy"), {"sensor_type": "NUMPY"})[1],
        True,
    ),
    "conversion damaged hdf5": (
        "dataset_conversion",
        lambda j, t, m: (damaged(j, "a.h5"), {"sensor_type": "HDF5"})[1],
        True,
    ),
    "conversion damaged tiff": (
        "dataset_conversion",
        lambda j, t, m: (damaged(j, "a.tif", b"II*\x00" + b"\xff" * 40), {"sensor_type": "TIFF"})[1],
        True,
    ),
    "conversion unknown param": ("dataset_conversion", lambda j, t, m: {"colour": "red"}, True),
    "conversion nothing convertible": ("dataset_conversion", lambda j, t, m: (dataset(j), {})[1], True),
    "compression bad level": ("data_compression", lambda j, t, m: (dataset(j), {"level": "x"})[1], True),
    "backup no dirs": ("backup_creation", lambda j, t, m: {}, True),
    "validation finds problems": (
        "data_validation",
        lambda j, t, m: (damaged(j, "bad.zip"), {"rebuild": True})[1],
        True,
    ),
    "google_sync bad link": ("google_sync", lambda j, t, m: {"data_url": "not a link"}, True),
    "google_sync missing rclone": (
        "google_sync",
        lambda j, t, m: (no_tool(m, "rclone"), {"rclone_source": str(dataset(j))})[1],
        True,
    ),
    "upload missing source": (
        "file_upload",
        lambda j, t, m: {"files": [str(Path(j.settings.in_data_dir) / "nope")]},
        True,
    ),
    "upload remote without config": (
        "file_upload",
        lambda j, t, m: {"remote": "store:x", "files": [str(dataset(j))]},
        True,
    ),
    "rsync refused option": (
        "rsync_transfer",
        lambda j, t, m: {"source": str(dataset(j)), "destination": str(j.output_dir), "options": ["-e"]},
        True,
    ),
    # refusals that will fail the same way again (issue 19): permanent, not retried
    "extraction 300-byte member name": ("file_extraction", extracting(lambda j: tar_with(j, ["n" * 300])), True),
    "extraction 300-byte name, zip": ("file_extraction", extracting(lambda j: zip_with(j, ["d/" + "n" * 300])), True),
    "extraction 1,500-deep nesting": ("file_extraction", extracting(lambda j: tar_with(j, ["d/" * 1500])), True),
    "rsync usage error (exit 1)": ("rsync_transfer", rsync_exiting(1, "syntax or usage error"), True),
    "rsync protocol error (exit 2)": ("rsync_transfer", rsync_exiting(2, "protocol incompatibility"), True),
    "google_sync malformed key": ("google_sync", sync_with_key('{"type": "service_account"}'), True),
    "google_sync key not an object": ("google_sync", sync_with_key('["service_account"]'), True),
    "rsync missing tool": (
        "rsync_transfer",
        lambda j, t, m: (no_tool(m, "rsync"), {"source": str(dataset(j)), "destination": str(j.output_dir)})[1],
        True,
    ),
    # failures that may pass: transient
    "google_sync rclone fails": (
        "google_sync",
        lambda j, t, m: (fake_tool(t, m, "rclone", 5), {"rclone_source": str(dataset(j))})[1],
        False,
    ),
    "rsync fails": (
        "rsync_transfer",
        lambda j, t, m: (fake_tool(t, m, "rsync", 23), {"source": str(dataset(j)), "destination": str(j.output_dir)})[
            1
        ],
        False,
    ),
    "compression disk full": ("data_compression", lambda j, t, m: (dataset(j), full_disk(m), {})[2], False),
}


def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9, 0))  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", list(CASES))
def test_classification(jobs, tmp_path, monkeypatch, case):
    job_type, build, permanent = CASES[case]
    params = build(jobs, tmp_path, monkeypatch)
    with pytest.raises(Exception) as err:
        jobs.run(job_type, **params)
    assert isinstance(err.value, ScError), f"{case}: {type(err.value).__name__}: {err.value}"
    assert is_permanent(err.value) is permanent, f"{case}: {type(err.value).__name__}: {err.value}"


def test_missing_tool_names_it_and_how_to_install(jobs, monkeypatch):
    no_tool(monkeypatch, "7z")
    path = dataset(jobs) / "x.7z"
    path.write_bytes(b"7z")
    with pytest.raises(MissingTool, match=r"'7z' command is not installed: apt-get install 7zip") as err:
        jobs.run("file_extraction", archive_path=str(path))
    assert is_permanent(err.value)


def test_damaged_7z_is_permanent_a_failing_7z_is_not(jobs, tmp_path, monkeypatch):
    need_tool("7z")
    src = tmp_path / "src"
    src.mkdir()
    (src / "f.txt").write_bytes(os.urandom(20000))
    good = dataset(jobs) / "good.7z"
    subprocess.run(["7z", "a", str(good), "f.txt"], cwd=src, check=True, capture_output=True)
    broken = dataset(jobs) / "broken.7z"
    data = bytearray(good.read_bytes())
    data[40:200] = os.urandom(160)
    broken.write_bytes(bytes(data))
    with pytest.raises(ScError) as err:
        jobs.run("file_extraction", archive_path=str(broken))
    assert is_permanent(err.value), err.value
    fake_tool(tmp_path, monkeypatch, "7z", 2, "ERROR: No space left on device")
    with pytest.raises(ScError) as err:
        jobs.run("file_extraction", archive_path=str(good))
    assert not is_permanent(err.value), err.value


def test_disk_errors_while_extracting_are_transient(jobs, monkeypatch):
    import zipfile

    from sccli.handlers import archives

    archive = dataset(jobs) / "ok.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("f.txt", "x")

    def no_space(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(archives.Writer, "file", no_space)
    with pytest.raises(ScError) as err:
        jobs.run("file_extraction", archive_path=str(archive))
    assert not is_permanent(err.value) and "No space" in str(err.value)
    assert not any(".sc-partial-" in p.name for p in jobs.input_dir.iterdir())
