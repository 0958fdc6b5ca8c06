"""Partial outputs are named per attempt; cleanup removes only its own attempt's; promotion asks the gate."""

from __future__ import annotations

from pathlib import Path

import pytest

from sccli.handlers.base import HandlerError, JobContext
from sccli.handlers.staging import install_gate, partial_path, promote, remove_partials
from sccli.settings import Settings


def make_settings(tmp_path: Path) -> Settings:
    dirs = {key: tmp_path / key for key in ("in", "out", "sync", "auth")}
    for path in dirs.values():
        path.mkdir()
    return Settings(
        in_data_dir=str(dirs["in"]), out_data_dir=str(dirs["out"]), sync_data_dir=str(dirs["sync"]),
        auth_dir=str(dirs["auth"]),
    )


def test_two_attempts_of_one_job_never_share_or_remove_each_others_partials(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    final = tmp_path / "out" / "result.bin"
    job = {"job_id": "J1", "dataset_uuid": "", "job_type": "x", "parameters": {"output_path": str(final)}}
    zombie = JobContext(job={**job, "lease_token": "aaaaaaaa1111"}, settings=settings)
    current = JobContext(job={**job, "lease_token": "bbbbbbbb2222"}, settings=settings)
    assert zombie.attempt == "J1-aaaaaaaa" and current.attempt == "J1-bbbbbbbb"
    mine, theirs = partial_path(final, zombie.attempt), partial_path(final, current.attempt)
    assert mine != theirs and mine.parent == final.parent
    mine.write_text("zombie")
    theirs.write_text("current")
    assert remove_partials(zombie.job, settings, "output_path") == [mine]
    assert not mine.exists() and theirs.read_text() == "current"


def test_promotion_needs_the_gate_to_say_yes(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    final = tmp_path / "out" / "result.bin"
    final.write_text("the current attempt's")
    partial = partial_path(final, "J1-aaaaaaaa")
    partial.write_text("a zombie's")
    asked: list[str] = []
    refusing = JobContext(
        job={"job_id": "J1", "lease_token": "aaaaaaaa"}, settings=settings,
        gate=lambda path: asked.append(path) or False,
    )
    assert not refusing.may_promote(final)
    with pytest.raises(HandlerError, match="no longer holds the job's lease"):
        promote(partial, final, ctx=refusing)
    assert final.read_text() == "the current attempt's" and asked == [str(final), str(final)]
    install_gate(lambda path: False)  # the child's process-wide gate covers promote() without a context
    try:
        with pytest.raises(HandlerError):
            promote(partial, final)
    finally:
        install_gate(None)
    promote(partial, final, ctx=JobContext(job={"job_id": "J1"}, settings=settings))  # no gate: handler unit tests
    assert final.read_text() == "a zombie's"
