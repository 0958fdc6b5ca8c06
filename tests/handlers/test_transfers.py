"""rsync_transfer, google_sync (through an rclone local remote) and file_upload on real files."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from sccli.errors import InvalidInput, PermanentError
from sccli.handlers.google_sync import folder_id, rclone_env, remote_config
from sccli.handlers.rsync import PARTIAL_DIR, TEMP_DIR
from tests.handlers.conftest import has_partial, kill_midway, need_tool, slow_writes

#: A service-account key of the right shape (the key itself is not real: nothing reaches Google).
SA_KEY = '{"type": "service_account", "client_email": "x@y.iam.gserviceaccount.com", ' \
         '"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----\\n"}'


def tree(root: Path, n: int = 3, size: int = 4000) -> dict[str, bytes]:
    files = {f"d{i % 2}/f{i}.bin": os.urandom(size) for i in range(n)}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


# -- rsync_transfer ---------------------------------------------------------------------------
def test_rsync_copies_between_data_dirs(jobs, settings):
    need_tool("rsync")
    files = tree(jobs.input_dir)
    dest = Path(settings.out_data_dir) / "mirror"
    result = jobs.run(
        "rsync_transfer", source=f"{jobs.input_dir}/", destination=str(dest),
        options=["-a", "--delete", "--exclude=*.tmp"],
    )
    for rel, data in files.items():
        assert (dest / rel).read_bytes() == data
    assert result["files_transferred"] == 3 and result["bytes_transferred"] == 12000
    assert not (dest / TEMP_DIR).exists()
    again = jobs.run("rsync_transfer", source=f"{jobs.input_dir}/", destination=str(dest))
    assert again["files_transferred"] == 0


@pytest.mark.parametrize(
    "option",
    [
        "-e", "-avze", "--rsh=ssh", "-e=sh -c id", "--rsync-path=/tmp/x", "--daemon", "--copy-links", "-L",
        "--files-from=/etc/passwd", "--exclude-from=/etc/shadow", "--temp-dir=/tmp", "--write-batch=x", "not-an-option",
    ],
)
def test_rsync_unsafe_options_refused(jobs, option):
    jobs.input_dir.mkdir()
    with pytest.raises(InvalidInput):
        jobs.run("rsync_transfer", source=str(jobs.input_dir), destination=str(jobs.output_dir), options=[option])


def test_rsync_locations_refused(jobs, settings, tmp_path):
    jobs.input_dir.mkdir()
    with pytest.raises(InvalidInput, match="outside"):
        jobs.run("rsync_transfer", source="/etc/", destination=str(jobs.output_dir))
    with pytest.raises(InvalidInput, match="outside"):
        jobs.run("rsync_transfer", source=str(jobs.input_dir), destination=str(tmp_path / "elsewhere"))
    with pytest.raises(InvalidInput, match="rsync_allowed_hosts"):
        jobs.run("rsync_transfer", source=str(jobs.input_dir), destination="evil.example.org:/tmp/")
    with pytest.raises(InvalidInput, match="rsync_allowed_hosts"):
        jobs.run("rsync_transfer", source="rsync://evil.example.org/mod/", destination=str(jobs.output_dir))
    settings.rsync_allowed_hosts = ["a.example.org", "b.example.org"]
    with pytest.raises(InvalidInput, match="two remote"):
        jobs.run("rsync_transfer", source="a.example.org:/x", destination="b.example.org:/y")
    with pytest.raises(InvalidInput, match="not a path"):
        jobs.run("rsync_transfer", source="--rsh=sh", destination=str(jobs.output_dir))
    listing = Path(settings.in_data_dir) / "list.txt"
    listing.write_text("wanted.txt\n")
    (jobs.input_dir / "wanted.txt").write_text("w")
    (jobs.input_dir / "unwanted.txt").write_text("u")
    need_tool("rsync")
    jobs.run(
        "rsync_transfer", source=f"{jobs.input_dir}/", destination=str(jobs.output_dir),
        options=["-a", f"--files-from={listing}"],
    )
    assert sorted(p.name for p in jobs.output_dir.iterdir()) == ["wanted.txt"]


def test_rsync_cancel_leaves_no_partial_files(jobs, settings):
    need_tool("rsync")
    jobs.input_dir.mkdir()
    (jobs.input_dir / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    dest = jobs.output_dir
    job = jobs.job(
        "rsync_transfer", source=f"{jobs.input_dir}/", destination=str(dest), options=["-a", "--bwlimit=500"]
    )
    kill_midway(
        jobs, job,
        lambda: any((dest / TEMP_DIR).glob("*")) and any(p.stat().st_size for p in (dest / TEMP_DIR).glob("*")),
    )
    assert not (dest / "big.bin").exists()
    assert not (dest / TEMP_DIR).exists() and not list(dest.rglob(PARTIAL_DIR))


# -- google_sync ------------------------------------------------------------------------------
def test_google_sync_runs_rclone_with_local_remote(jobs, settings):
    need_tool("rclone")
    source = Path(settings.in_data_dir) / "drive-folder"
    files = tree(source)
    result = jobs.run("google_sync", rclone_source=str(source), user_email="a@example.org")
    synced = Path(settings.sync_data_dir) / jobs.uuid
    assert result["destination"] == str(synced) and result["file_count"] == 3
    for rel, data in files.items():
        assert (synced / rel).read_bytes() == data
    assert result["next_parameters"] == {"input_path": str(synced)}
    # a second sync drops files deleted at the source and keeps the rest
    (source / "d0/f0.bin").unlink()
    again = jobs.run("google_sync", rclone_source=str(source))
    assert again["file_count"] == 2 and not (synced / "d0/f0.bin").exists()
    assert not has_partial(Path(settings.sync_data_dir))


def test_google_sync_drive_config_and_refusals(jobs, settings, tmp_path):
    assert folder_id("https://drive.google.com/drive/folders/1AbCdEfGhIjKlMnOp?usp=sharing") == "1AbCdEfGhIjKlMnOp"
    assert folder_id("https://drive.google.com/open?id=1ZyXwVuTsRqPoNm") == "1ZyXwVuTsRqPoNm"
    with pytest.raises(InvalidInput):
        folder_id("https://example.org/not-drive")
    job = jobs.job("google_sync", data_url="https://drive.google.com/drive/folders/1AbCdEfGhIjKlMnOp")
    with pytest.raises(PermanentError, match="exactly one service-account"):
        remote_config(jobs.context(job))
    key = Path(settings.auth_dir) / "sa.json"
    key.write_text(SA_KEY)
    keys, path = remote_config(jobs.context(job))
    assert keys["type"] == "drive" and keys["service_account_file"] == str(key)
    assert keys["root_folder_id"] == "1AbCdEfGhIjKlMnOp"
    escape = jobs.job("google_sync", data_url="1AbCdEfGhIjKlMnOp", service_account_file="../../etc/passwd")
    with pytest.raises(InvalidInput, match="inside auth_dir"):
        remote_config(jobs.context(escape))
    with pytest.raises(InvalidInput, match="outside"):
        jobs.run("google_sync", rclone_source=str(tmp_path))
    with pytest.raises(InvalidInput, match="data_url"):
        jobs.run("google_sync")


def test_a_value_that_slipped_past_creation_cannot_add_an_rclone_key(jobs, settings, monkeypatch):
    """Issue 19: a newline in user_email added ``type = alias`` and ``remote = <dir>`` to the rclone
    config, so the sync copied a host directory. Run-time checks bypassed, the value still cannot
    add a key: the configuration reaches rclone one key per environment variable, and a control
    character in any value is refused before rclone starts."""
    need_tool("rclone")
    secret = Path(settings.backup_dir) / "other-dataset"
    secret.mkdir()
    (secret / "secret.txt").write_text("not yours")
    (Path(settings.auth_dir) / "sa.json").write_text(SA_KEY)
    monkeypatch.setattr("sccli.handlers.google_sync.check_parameters", lambda *a, **k: None)
    job = jobs.job("google_sync", data_url="1AbCdEfGhIjKlMnOp", impersonate=True,
                   user_email=f"a@b.org\ntype = alias\nremote = {secret}")
    with pytest.raises(InvalidInput, match="control character"):
        from sccli.handlers import resolve_handler

        resolve_handler("google_sync", settings)(jobs.context(job))
    synced = Path(settings.sync_data_dir)
    assert not list(synced.rglob("secret.txt")) and not has_partial(synced)


def test_rclone_gets_its_configuration_one_key_per_variable(jobs, settings):
    (Path(settings.auth_dir) / "sa.json").write_text(SA_KEY)
    job = jobs.job("google_sync", data_url="1AbCdEfGhIjKlMnOp", impersonate=True, user_email="a@b.org")
    keys, _ = remote_config(jobs.context(job))
    env = rclone_env(keys)
    assert env["RCLONE_CONFIG_SCSOURCE_TYPE"] == "drive" and env["RCLONE_CONFIG_SCSOURCE_IMPERSONATE"] == "a@b.org"
    assert env["RCLONE_CONFIG_SCSOURCE_ROOT_FOLDER_ID"] == "1AbCdEfGhIjKlMnOp"
    for bad in ("a\nb", "a\rb", "a\x00b", "a\u2028b"):
        with pytest.raises(InvalidInput, match="control character"):
            rclone_env({**keys, "impersonate": bad})


def test_google_sync_cancel_leaves_no_partial(jobs, settings):
    need_tool("rclone")
    source = Path(settings.in_data_dir) / "drive-folder"
    source.mkdir()
    (source / "big.bin").write_bytes(os.urandom(4 * 1024 * 1024))
    job = jobs.job("google_sync", rclone_source=str(source))
    sync = Path(settings.sync_data_dir)
    # rclone's --bwlimit through RCLONE_BWLIMIT keeps the copy running long enough to be killed
    os.environ["RCLONE_BWLIMIT"] = "256k"
    try:
        kill_midway(jobs, job, lambda: any(p.is_file() and p.stat().st_size for p in sync.rglob("*")))
    finally:
        del os.environ["RCLONE_BWLIMIT"]
    assert list(sync.iterdir()) == []
    import tempfile

    assert not list(Path(tempfile.gettempdir()).glob(f"sc-rclone-{job['job_id']}-*"))


# -- file_upload ------------------------------------------------------------------------------
def test_upload_copies_verifies_and_resumes(jobs, settings):
    staging = Path(settings.sync_data_dir) / "incoming"
    files = tree(staging / "folder")
    (staging / "single.txt").write_text("single")
    (staging / "bundle.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    result = jobs.run(
        "file_upload", files=[str(staging / "folder"), str(staging / "single.txt"), str(staging / "bundle.zip")]
    )
    for rel, data in files.items():
        assert (jobs.input_dir / "folder" / rel).read_bytes() == data
        assert result["checksums"][f"folder/{rel}"] == hashlib.sha256(data).hexdigest()
    assert result["archives"] == [str(jobs.input_dir / "bundle.zip")] and result["copied"] == 5
    assert result["next_parameters"]["archives"] == result["archives"]
    again = jobs.run("file_upload", files=[str(staging / "folder")])
    assert again["copied"] == 0 and again["skipped"] == 3 and "archives" not in again
    # a partial copy of an earlier attempt of the same job is continued, a wrong one restarted
    big = staging / "big.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    job = jobs.job("file_upload", files=[str(big)])
    partial = jobs.input_dir / f".big.bin.sc-partial-{job['job_id']}"
    partial.write_bytes(big.read_bytes()[: 1024 * 1024])
    jobs.context(job)
    from sccli.handlers.upload import run

    run(jobs.context(job))
    assert (jobs.input_dir / "big.bin").read_bytes() == big.read_bytes() and not partial.exists()
    assert stat.S_ISREG((jobs.input_dir / "big.bin").stat().st_mode)


def test_upload_refusals(jobs, settings, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    with pytest.raises(InvalidInput, match="outside"):
        jobs.run("file_upload", files=[str(outside)])
    with pytest.raises(InvalidInput, match="required"):
        jobs.run("file_upload")
    with pytest.raises(InvalidInput, match="list of non-empty strings"):
        jobs.run("file_upload", files=[1, 2])
    jobs.input_dir.mkdir()
    with pytest.raises(InvalidInput, match="overlaps"):
        jobs.run("file_upload", files=[str(jobs.input_dir)])
    link = Path(settings.sync_data_dir) / "sneaky"
    link.symlink_to(outside)
    with pytest.raises(InvalidInput, match="outside"):
        jobs.run("file_upload", files=[str(link)])


def test_upload_cancel_leaves_no_partial(jobs, settings):
    source = Path(settings.sync_data_dir) / "big.bin"
    source.write_bytes(os.urandom(4 * 1024 * 1024))
    job = jobs.job("file_upload", files=[str(source)])
    kill_midway(jobs, job, lambda: jobs.input_dir.is_dir() and any(jobs.input_dir.glob(".*sc-partial-*")),
                setup=slow_writes("sccli.handlers.upload", "os.fsync", 5.0))
    assert list(jobs.input_dir.iterdir()) == []


def test_an_uploaded_file_name_is_no_rclone_pattern(jobs, settings, tmp_path):
    """A single file reaches rclone as an ``--include`` filter: its name must match itself only
    (``a*b`` once uploaded its neighbour ``axb`` too, ``c[1]`` uploaded ``c1`` instead)."""
    need_tool("rclone")
    staging = Path(settings.sync_data_dir) / "incoming"
    staging.mkdir()
    for name in ("a*b", "axb", "c[1]", "c1", "d{e,f}", "de", "q?", "qq", "back\\slash"):
        (staging / name).write_text(name)
    (Path(settings.auth_dir) / "rclone.conf").write_text("[store]\ntype = local\n")
    root = tmp_path / "remote-root"
    patterns = ["a*b", "c[1]", "d{e,f}", "q?", "back\\slash"]
    for name in patterns:
        jobs.run("file_upload", files=[str(staging / name)], remote=f"store:{root}")
    assert sorted(p.name for p in (root / jobs.uuid).iterdir()) == sorted(patterns)


def test_upload_to_rclone_remote(jobs, settings, tmp_path):
    need_tool("rclone")
    staging = Path(settings.sync_data_dir) / "incoming"
    files = tree(staging / "folder")
    (staging / "single.txt").write_text("single")
    (staging / "other.txt").write_text("not uploaded")
    with pytest.raises(PermanentError, match="rclone.conf"):
        jobs.run("file_upload", files=[str(staging / "single.txt")], remote="store:bucket")
    (Path(settings.auth_dir) / "rclone.conf").write_text("[store]\ntype = local\n")
    with pytest.raises(InvalidInput, match="name:path"):
        jobs.run("file_upload", files=[str(staging / "single.txt")], remote="--config=/etc/x")
    root = tmp_path / "remote-root"
    result = jobs.run(
        "file_upload", files=[str(staging / "folder"), str(staging / "single.txt")], remote=f"store:{root}"
    )
    assert result["file_count"] == 4 and result["destination"] == f"store:{root}/{jobs.uuid}"
    for rel, data in files.items():
        assert (root / jobs.uuid / "folder" / rel).read_bytes() == data
    assert sorted(p.name for p in (root / jobs.uuid).iterdir()) == ["folder", "single.txt"]
