"""Handlers that read a dataset never follow a link out of the data directories, never read
data an input file keeps elsewhere, and never write setuid, setgid or sticky bits."""

from __future__ import annotations

import io
import os
import stat
import sys
import tarfile
from pathlib import Path

import pytest

from sccli.errors import InvalidInput, is_permanent
from sccli.handlers.containment import EscapingLink
from tests.handlers.conftest import need_tool

SPECIAL = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX
_OPENED: list[str] = []


def _audit(event: str, args: tuple) -> None:
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside the data directories holding a secret array and a secret text."""
    np = pytest.importorskip("numpy")
    root = tmp_path / "outside"
    root.mkdir()
    np.save(root / "secret.npy", np.full((8, 8), 42, dtype="uint8"))
    (root / "secret.txt").write_text("secret")
    return root


def opened_under(root: Path, action) -> list[str]:
    """Paths under ``root`` opened (by Python) while ``action`` runs."""
    start = len(_OPENED)
    try:
        action()
    finally:
        seen = _OPENED[start:]
    return [p for p in seen if os.path.realpath(p).startswith(str(root))]


def test_conversion_refuses_a_link_out_and_reads_nothing_outside(jobs, outside):
    jobs.input_dir.mkdir()
    (jobs.input_dir / "data.npy").symlink_to(outside / "secret.npy")

    def convert() -> None:
        with pytest.raises(EscapingLink, match="data.npy") as err:
            jobs.run("dataset_conversion", sensor_type="NUMPY")
        assert is_permanent(err.value) and "outside the data directories" in str(err.value)

    assert opened_under(outside, convert) == []
    assert not jobs.output_dir.exists()


def test_conversion_refuses_a_directory_link_out(jobs, outside):
    jobs.input_dir.mkdir()
    (jobs.input_dir / "sub").symlink_to(outside)
    assert opened_under(outside, lambda: pytest.raises(EscapingLink, jobs.run, "dataset_conversion")) == []


def test_conversion_follows_links_that_stay_inside(jobs, settings):
    np = pytest.importorskip("numpy")
    pytest.importorskip("OpenVisus")
    elsewhere = Path(settings.sync_data_dir) / "shared"
    elsewhere.mkdir()
    np.save(elsewhere / "a.npy", np.arange(64, dtype="uint16").reshape(8, 8))
    jobs.input_dir.mkdir()
    (jobs.input_dir / "a.npy").symlink_to(elsewhere / "a.npy")
    assert jobs.run("dataset_conversion", sensor_type="NUMPY")["status"] == "success"


def test_conversion_refuses_overlapping_input_and_output(jobs):
    jobs.input_dir.mkdir()
    with pytest.raises(InvalidInput, match="overlaps"):
        jobs.run("dataset_conversion", input_path=str(jobs.input_dir), output_path=str(jobs.input_dir))


def test_hdf5_with_external_data_is_refused_unread(jobs, outside):
    h5py = pytest.importorskip("h5py")
    np = pytest.importorskip("numpy")
    raw = outside / "raw.bin"
    raw.write_bytes(bytes(range(64)))
    with h5py.File(outside / "other.h5", "w") as other:
        other["data"] = np.zeros((8, 8), dtype="uint8")
    cases = {
        "external_storage.h5": lambda f: f.create_dataset(
            "data", shape=(8, 8), dtype="uint8", external=[(str(raw), 0, 64)]
        ),
        "external_link.h5": lambda f: f.__setitem__("data", h5py.ExternalLink(str(outside / "other.h5"), "/data")),
    }
    for name, build in cases.items():
        folder = Path(jobs.settings.in_data_dir) / name.removesuffix(".h5")
        folder.mkdir()
        with h5py.File(folder / name, "w") as f:
            f["small"] = np.zeros((2, 2), dtype="uint8")
            build(f)
        with pytest.raises(InvalidInput, match="refused, not read") as err:
            jobs.run(
                "dataset_conversion", input_path=str(folder), sensor_type="HDF5", conversion_params={"dataset": "data"}
            )
        assert is_permanent(err.value)


def test_idx_with_data_files_outside_is_refused(jobs, outside):
    jobs.input_dir.mkdir()
    (jobs.input_dir / "visus.idx").write_text(
        f"(version)\n6\n(box)\n0 7 0 7\n(filename_template)\n{outside}/%04x.bin\n"
    )
    with pytest.raises(InvalidInput, match="outside its folder"):
        jobs.run("dataset_conversion", sensor_type="IDX")


@pytest.mark.parametrize("job_type", ["data_compression", "backup_creation", "data_validation"])
def test_readers_refuse_a_link_out(jobs, outside, job_type):
    jobs.input_dir.mkdir()
    (jobs.input_dir / "ok.txt").write_text("ok")
    (jobs.input_dir / "leak.txt").symlink_to(outside / "secret.txt")
    with pytest.raises(EscapingLink, match="leak.txt"):
        jobs.run(job_type)
    assert not any(p.name.endswith((".tar.zst", ".manifest.json")) for p in Path(jobs.settings.out_data_dir).iterdir())


def test_rsync_refuses_a_source_with_a_link_out(jobs, outside):
    need_tool("rsync")
    jobs.input_dir.mkdir()
    (jobs.input_dir / "leak").symlink_to(outside)
    with pytest.raises(EscapingLink, match="leak"):
        jobs.run("rsync_transfer", source=f"{jobs.input_dir}/", destination=str(jobs.output_dir))
    assert not jobs.output_dir.exists()


# -- no special permission bits in any output -------------------------------------------------
def special_tree(root: Path) -> None:
    (root / "sub").mkdir(parents=True)
    for name, mode in (("suid.sh", 0o4755), ("sgid.sh", 0o2755), ("plain.txt", 0o644)):
        (root / name).write_text("#!/bin/sh\n")
        os.chmod(root / name, mode)
    os.chmod(root / "sub", 0o1777)


def assert_no_special(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            assert not path.stat().st_mode & SPECIAL, f"{path}: {oct(path.stat().st_mode)}"


@pytest.mark.parametrize("options", [["-a"], ["-rlpt"], ["-a", "--chmod=u+rwx"], ["-a", "--no-perms"]])
def test_rsync_output_has_no_special_bits(jobs, options):
    need_tool("rsync")
    special_tree(jobs.input_dir)
    jobs.run("rsync_transfer", source=f"{jobs.input_dir}/", destination=str(jobs.output_dir), options=options)
    assert (jobs.output_dir / "suid.sh").is_file()
    assert_no_special(jobs.output_dir)


@pytest.mark.parametrize(
    "mode", ["u+s", "g+s", "+t", "o+t", "ug+s", "Fu+s", "Dg+s", "a=rwxs", "D2775", "F4755", "u+x,g+s"]
)
def test_rsync_chmod_with_special_bits_refused(jobs, mode):
    jobs.input_dir.mkdir()
    with pytest.raises(InvalidInput, match="setuid") as err:
        jobs.run(
            "rsync_transfer", source=str(jobs.input_dir), destination=str(jobs.output_dir),
            options=["-a", f"--chmod={mode}"],
        )
    assert is_permanent(err.value)


@pytest.mark.parametrize(
    "option",
    [
        "-X", "--xattrs", "-aX", "--filter=: .rules", "-F", "--info=all", "--copy-unsafe-links", "-k", "-K",
        "--copy-dirlinks", "--keep-dirlinks", "--config=/etc/rsyncd.conf", "-D", "--devices", "--specials",
    ],
)
def test_rsync_options_that_follow_links_run_programs_or_plant_specials_refused(jobs, option):
    jobs.input_dir.mkdir()
    with pytest.raises(InvalidInput, match="not allowed"):
        jobs.run("rsync_transfer", source=str(jobs.input_dir), destination=str(jobs.output_dir), options=[option])


def archive_modes(path: Path) -> dict[str, int]:
    import zstandard

    data = zstandard.ZstdDecompressor().stream_reader(path.open("rb")).read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: m.mode for m in tar.getmembers()}


def test_compression_and_backup_archives_store_no_special_bits(jobs, settings):
    pytest.importorskip("zstandard")
    special_tree(jobs.input_dir)
    result = jobs.run("data_compression")
    modes = archive_modes(Path(result["archive"]))
    assert any(name.endswith("suid.sh") for name in modes)
    assert all(not mode & SPECIAL for mode in modes.values()), modes
    backup = jobs.run("backup_creation")
    modes = archive_modes(Path(backup["archive"]))
    assert any(name.endswith("suid.sh") for name in modes)
    assert all(not mode & SPECIAL for mode in modes.values()), modes
    assert_no_special(Path(backup["snapshot"]))


def test_idx_copy_keeps_no_special_bits(jobs):
    np = pytest.importorskip("numpy")
    pytest.importorskip("OpenVisus")
    source = Path(jobs.settings.sync_data_dir) / "src"
    source.mkdir()
    np.save(source / "a.npy", np.arange(256, dtype="uint8").reshape(16, 16))
    first = jobs.run(
        "dataset_conversion", input_path=str(source), output_path=str(Path(jobs.settings.sync_data_dir) / "idx")
    )
    idx_dir = Path(first["output_path"])
    for path in idx_dir.rglob("*"):
        os.chmod(path, path.stat().st_mode | stat.S_ISUID)
    copied = jobs.run("dataset_conversion", input_path=str(idx_dir), sensor_type="IDX")
    assert_no_special(Path(copied["output_path"]))
