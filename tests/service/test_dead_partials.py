"""Partial outputs of an attempt that died with its service (SIGKILL mid-extraction, mid-conversion)
are removed by whoever recovers the job: the next attempt before it starts work, or the stale
re-queue when it ends the job. Once the job has ended, no ``.sc-partial-*`` is left."""

from __future__ import annotations

import io
import json
import signal
import tarfile
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.conftest import StoreSpec, add_dataset
from tests.service.conftest import make_queue, wait_for, write_settings

PLUGINS = {"file_extraction": "tests.service.partial_plugins:extraction",
           "dataset_conversion": "tests.service.partial_plugins:conversion"}


def partials(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".sc-partial-" in p.name]


def arrange(job_type: str, tmp_path: Path, dataset: str) -> dict[str, Any]:
    """The dataset's input for ``job_type`` and the job's parameters."""
    folder = tmp_path / "in" / dataset
    folder.mkdir(parents=True)
    if job_type == "file_extraction":
        with tarfile.open(folder / "data.tar", "w") as tar:
            for name in ("a.txt", "sub/b.txt"):
                info = tarfile.TarInfo(name)
                info.size = 5
                tar.addfile(info, io.BytesIO(b"hello"))
        return {"archive_path": [str(folder / "data.tar")]}
    np = pytest.importorskip("numpy")
    pytest.importorskip("OpenVisus")
    np.save(folder / "volume.npy", np.arange(512, dtype="uint16").reshape(8, 8, 8))
    return {"sensor_type": "NUMPY"}


@pytest.mark.parametrize("job_type", ["file_extraction", "dataset_conversion"])
@pytest.mark.parametrize("max_attempts", [2, 1])
def test_a_dead_attempts_partials_are_removed_once_the_job_ends(
    sqlite_spec: StoreSpec, tmp_path: Path, services: Callable[..., Any], job_type: str, max_attempts: int
) -> None:
    store = sqlite_spec.open()
    queue = make_queue(store)
    dataset = add_dataset(store)
    params = arrange(job_type, tmp_path, dataset)
    job_id = queue.create_job(dataset, job_type, params, max_attempts=max_attempts)
    settings = write_settings(tmp_path, handlers=PLUGINS, workers=1)
    first = services(sqlite_spec, settings)
    stuck = tmp_path / "logs" / f"stuck-{job_id}"
    wait_for(stuck.exists, timeout=60, what="the first attempt to write its partials")
    first.proc.send_signal(signal.SIGKILL)
    assert first.wait(30) == -signal.SIGKILL
    assert partials(tmp_path), "the killed attempt left no partial output: the test proves nothing"
    second = services(sqlite_spec, write_settings(tmp_path, handlers=PLUGINS, workers=1), "--until-idle")
    assert second.wait(90) == 0, second.log()[-3000:]
    job = queue.require_job(job_id)
    assert job["status"] == ("completed" if max_attempts > 1 else "failed"), json.dumps(job, default=str)[:2000]
    assert partials(tmp_path) == []
    if max_attempts > 1 and job_type == "file_extraction":
        assert (tmp_path / "in" / dataset / "sub" / "b.txt").read_text() == "hello"


def test_a_retry_removes_earlier_attempts_partials_only(tmp_path: Path) -> None:
    from sccli.handlers.staging import partial_path, remove_earlier_partials
    from sccli.settings import Settings

    for sub in ("in", "out", "sync", "auth"):
        (tmp_path / sub).mkdir()
    settings = Settings(in_data_dir=str(tmp_path / "in"), out_data_dir=str(tmp_path / "out"),
                        sync_data_dir=str(tmp_path / "sync"), auth_dir=str(tmp_path / "auth"))
    dataset = "4f1c2a9e-0000-4000-8000-000000000001"
    job_id, other_job = "a1b2c3d4-0000-4000-8000-00000000000a", "b1b2c3d4-0000-4000-8000-00000000000b"
    folder = tmp_path / "in" / dataset / "deep"
    folder.mkdir(parents=True)
    dead = [partial_path(folder / "x.bin", f"{job_id}-deadbeef"),
            partial_path(tmp_path / "out" / dataset, f"{job_id}-0badf00d"),
            partial_path(tmp_path / "in" / dataset / "extract", job_id)]
    mine = partial_path(folder / "y.bin", f"{job_id}-c0ffee00")
    foreign = partial_path(folder / "z.bin", f"{other_job}-deadbeef")
    for path in [*dead, mine, foreign]:
        path.write_text("partial")
    job = {"job_id": job_id, "dataset_uuid": dataset, "lease_token": "c0ffee00-rest", "parameters": {}}
    assert remove_earlier_partials(job, settings) == sorted(dead)
    assert mine.exists() and foreign.exists() and not any(p.exists() for p in dead)
    assert remove_earlier_partials(job, settings, keep_own=False) == [mine] and foreign.exists()
