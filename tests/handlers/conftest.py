"""Fixtures for handler tests: data directories under tmp_path, a JobContext factory and a
helper that runs a handler in a child process group, kills it mid-way and calls cleanup."""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sccli.handlers import resolve_cleanup, resolve_handler
from sccli.handlers.base import JobContext
from sccli.settings import Settings


def need_tool(name: str) -> None:
    """Skip the test, saying why, when a command-line tool is missing."""
    if shutil.which(name) is None:
        pytest.skip(f"the {name!r} command is not installed (scripts/install-tools.sh installs it)")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    dirs = {key: tmp_path / key for key in ("upload", "converted", "sync", "auth", "backup", "logs")}
    for path in dirs.values():
        path.mkdir()
    return Settings(
        in_data_dir=str(dirs["upload"]), out_data_dir=str(dirs["converted"]), sync_data_dir=str(dirs["sync"]),
        auth_dir=str(dirs["auth"]), backup_dir=str(dirs["backup"]), log_dir=str(dirs["logs"]),
    )


class Jobs:
    """Builds job documents and contexts for one dataset."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.uuid = str(uuid.uuid4())
        self.progress: list[tuple[float | None, str | None]] = []

    @property
    def input_dir(self) -> Path:
        return Path(self.settings.in_data_dir) / self.uuid

    @property
    def output_dir(self) -> Path:
        return Path(self.settings.out_data_dir) / self.uuid

    def job(self, job_type: str, **parameters: Any) -> dict[str, Any]:
        return {"job_id": str(uuid.uuid4()), "dataset_uuid": self.uuid, "job_type": job_type, "parameters": parameters}

    def context(self, job: dict[str, Any]) -> JobContext:
        return JobContext(job=job, settings=self.settings, log=logging.getLogger("sccli.test.handler"),
                          report=lambda pct, msg: self.progress.append((pct, msg)))

    def run(self, job_type: str, **parameters: Any) -> dict[str, Any]:
        job = self.job(job_type, **parameters)
        return resolve_handler(job_type, self.settings)(self.context(job))


@pytest.fixture
def jobs(settings: Settings) -> Jobs:
    return Jobs(settings)


def _child(job: dict[str, Any], settings: Settings, setup: Callable[[], None] | None) -> None:
    os.setpgid(0, 0)
    if setup is not None:
        setup()
    logging.basicConfig(level=logging.INFO)
    resolve_handler(job["job_type"], settings)(JobContext(job=job, settings=settings))


def kill_midway(
    jobs: Jobs, job: dict[str, Any], started: Callable[[], bool], *, setup: Callable[[], None] | None = None,
    timeout: float = 20.0,
) -> None:
    """Run the job's handler in its own process group, wait until ``started()`` is true (partial
    output exists), kill the whole group as the service does, then call the module's cleanup.
    ``setup`` runs in the child first (e.g. to slow the handler down so the kill lands mid-way)."""
    proc = multiprocessing.get_context("fork").Process(target=_child, args=(job, jobs.settings, setup))
    proc.start()
    deadline = time.monotonic() + timeout
    try:
        while not started():
            assert proc.is_alive(), f"handler finished (exit {proc.exitcode}) before it could be killed"
            assert time.monotonic() < deadline, "handler never started writing"
            time.sleep(0.01)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.join(10)
    cleanup = resolve_cleanup(job["job_type"], jobs.settings)
    assert cleanup is not None
    cleanup(job, jobs.settings)


def slow_writes(module: str, attr: str, delay: float = 0.05) -> Callable[[], None]:
    """A child setup that makes ``module.attr`` sleep before each call."""

    def setup() -> None:
        import importlib

        owner = importlib.import_module(module)
        target = owner
        *path, name = attr.split(".")
        for part in path:
            target = getattr(target, part)
        original = getattr(target, name)

        def slowed(*args: Any, **kwargs: Any) -> Any:
            time.sleep(delay)
            return original(*args, **kwargs)

        setattr(target, name, slowed)

    return setup


def has_partial(root: Path) -> bool:
    """Whether anything under ``root`` carries the partial-output mark."""
    return root.exists() and any(".sc-partial-" in p.name for p in root.rglob("*"))
