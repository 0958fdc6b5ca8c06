"""Containment per dataset: a job of dataset U reaches ``<data dir>/<U>`` (and non-dataset entries
such as an upload's staging area), never ``<data dir>/<other uuid>``: not through an archive whose
links reach the other dataset only once a later ``d -> .`` link exists, not by converting or
uploading such a tree, not through a path parameter."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path

import pytest

from sccli.errors import InvalidInput, is_permanent
from sccli.queue import JobQueue
from sccli.settings import Settings
from sccli.store import open_store
from tests.handlers.conftest import has_partial
from tests.handlers.test_hostile_archives import FORMATS, Member, snapshot, write_tar


@pytest.fixture
def other(settings: Settings) -> str:
    """Another dataset, with an input array and an output file of its own."""
    name = str(uuid.uuid4())
    (Path(settings.in_data_dir) / name).mkdir()
    (Path(settings.in_data_dir) / name / "private.npy").write_bytes(b"\x93NUMPY other dataset's array")
    (Path(settings.out_data_dir) / name).mkdir()
    (Path(settings.out_data_dir) / name / "result.txt").write_text("other dataset's result")
    return name


def via_later_dot_link(other: str) -> list[Member]:
    # judged while "d" does not exist, x stays in U (U/d/.. = U); once "d -> ." exists, U/d/.. is
    # the data directory itself and x reaches <in_data_dir>/<other>
    return [("sym", "x", f"d/../{other}"), ("sym", "d", "."), ("file", "f.txt", b"ok")]


@pytest.mark.parametrize("fmt", ["tar", "tar.gz", "zip"])
def test_an_archive_reaching_another_dataset_through_a_later_dot_link_is_refused(jobs, tmp_path, other, fmt):
    jobs.input_dir.mkdir()
    before = snapshot(tmp_path)
    for number, order in enumerate(itertools.permutations(via_later_dot_link(other))):
        archive = FORMATS[fmt](jobs.input_dir / f"dot-{number}", list(order))
        # refused whole: by the member writer (a link out of the destination) or by the final tree
        with pytest.raises(InvalidInput, match="another dataset|outside the destination") as err:
            jobs.run("file_extraction", archive_path=str(archive))
        assert is_permanent(err.value)
        archive.unlink()
        assert snapshot(tmp_path) == before and not has_partial(tmp_path)


def test_a_direct_link_to_another_dataset_is_refused_and_own_links_still_extract(jobs, other):
    jobs.input_dir.mkdir()
    archive = write_tar(jobs.input_dir / "direct.tar", [("sym", "peek", f"../{other}/private.npy")], "w")
    with pytest.raises(InvalidInput, match="another dataset|outside the destination"):
        jobs.run("file_extraction", archive_path=str(archive))
    archive.unlink()
    members: list[Member] = [("file", "a.txt", b"a"), ("sym", "d", "."), ("sym", "b", "d/d/a.txt")]
    fine = write_tar(jobs.input_dir / "fine.tar", members, "w")
    jobs.run("file_extraction", archive_path=str(fine))
    assert (jobs.input_dir / "b").read_bytes() == b"a"


def test_a_whole_data_directory_is_refused(jobs, settings, other):
    jobs.input_dir.mkdir()
    (jobs.input_dir / "up").symlink_to("..")
    with pytest.raises(InvalidInput, match="whole data directory"):
        jobs.run("dataset_conversion", sensor_type="NUMPY")
    (jobs.input_dir / "up").unlink()
    for job_type, params in (("rsync_transfer", {"source": settings.in_data_dir, "destination": str(jobs.output_dir)}),
                             ("file_upload", {"files": [settings.out_data_dir]})):
        with pytest.raises(InvalidInput, match="whole data directory"):
            jobs.run(job_type, **params)
    assert not jobs.output_dir.exists()


def plant_tree(jobs, other: str) -> None:
    """The tree such an archive would have left, placed some other way."""
    jobs.input_dir.mkdir(exist_ok=True)
    (jobs.input_dir / "d").symlink_to(".")
    (jobs.input_dir / "x").symlink_to(f"d/../{other}")
    (jobs.input_dir / "own.npy").write_bytes(b"\x93NUMPY own")


def test_conversion_of_such_a_tree_is_refused(jobs, other):
    plant_tree(jobs, other)
    with pytest.raises(InvalidInput, match="another dataset") as err:
        jobs.run("dataset_conversion", sensor_type="NUMPY")
    assert is_permanent(err.value) and not jobs.output_dir.exists()


def test_upload_of_such_a_tree_is_refused(jobs, settings, other):
    plant_tree(jobs, other)
    own_sync = Path(settings.sync_data_dir) / jobs.uuid
    own_sync.mkdir()
    (own_sync / "x").symlink_to(Path(settings.in_data_dir) / jobs.uuid / "x")
    for named in (jobs.input_dir / "x", own_sync / "x"):
        with pytest.raises(InvalidInput, match="another dataset"):
            jobs.run("file_upload", files=[str(named)], destination=str(Path(settings.out_data_dir) / jobs.uuid))
    assert not (Path(settings.out_data_dir) / jobs.uuid).exists()


@pytest.mark.parametrize(
    ("job_type", "key", "where"),
    [("dataset_conversion", "input_path", "in"), ("dataset_conversion", "output_path", "out"),
     ("file_extraction", "destination", "in"), ("file_upload", "destination", "out"),
     ("data_compression", "output_path", "out"), ("rsync_transfer", "destination", "out")],
)
def test_path_parameters_naming_another_dataset_are_refused(jobs, settings, other, job_type, key, where):
    target = str(Path(settings.in_data_dir if where == "in" else settings.out_data_dir) / other)
    params: dict[str, object] = {key: target}
    jobs.input_dir.mkdir()
    (jobs.input_dir / "own.txt").write_text("own")
    if job_type == "file_upload":
        staged = Path(settings.sync_data_dir) / "incoming"
        staged.mkdir()
        (staged / "a.txt").write_text("a")
        params["files"] = [str(staged / "a.txt")]
    if job_type == "rsync_transfer":
        params["source"] = str(jobs.input_dir)
    with pytest.raises(InvalidInput, match="another dataset"):
        jobs.run(job_type, **params)
    if job_type == "rsync_transfer":
        return  # its locations may be remote: checked by the handler, not declared as paths
    queue = JobQueue(open_store(f"sqlite:///{Path(settings.auth_dir) / 'q.db'}"), settings=settings)
    queue.store.ensure_schema()
    with pytest.raises(InvalidInput, match="another dataset"):
        queue.create_job(jobs.uuid, job_type, params, allow_missing_dataset=True)
    assert sorted(p.name for p in (Path(settings.out_data_dir) / other).iterdir()) == ["result.txt"]
