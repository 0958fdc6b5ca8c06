"""Helpers for the service tests: settings with tiny intervals, services as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sccli.queue import JobQueue
from sccli.store.base import Store
from tests.conftest import StoreSpec, add_dataset

ROOT = Path(__file__).resolve().parents[2]

PLUGINS = {
    name: f"tests.service.plugins:{name}"
    for name in (
        "ok", "fail", "sleep_forever", "spawn_grandchild_sleep", "progress", "slow_ok", "escape", "staged_write",
        "flood", "permanent",
    )
}

#: Tiny intervals so nothing in these tests waits for seconds.
FAST = {
    "poll_interval_seconds": 0.02, "heartbeat_seconds": 0.2, "stale_after_seconds": 1.0,
    "progress_interval_seconds": 0.2, "retry_base_seconds": 0, "retry_max_seconds": 0, "kill_grace_seconds": 0.5,
    "drain_seconds": 2,
}


def write_settings(tmp_path: Path, **overrides: Any) -> Path:
    """A settings.json with existing data directories, the test plugins and FAST intervals."""
    data: dict[str, Any] = {}
    for key, sub in (("in_data_dir", "in"), ("out_data_dir", "out"), ("sync_data_dir", "sync"), ("auth_dir", "auth")):
        (tmp_path / sub).mkdir(exist_ok=True)
        data[key] = str(tmp_path / sub)
    data["log_dir"] = str(tmp_path / "logs")
    data.update(FAST)
    data["handlers"] = dict(PLUGINS)
    handlers = overrides.pop("handlers", {})
    data.update(overrides)
    data["handlers"].update(handlers)
    path = tmp_path / f"settings-{len(list(tmp_path.glob('settings*.json')))}.json"
    path.write_text(json.dumps(data))
    return path


def service_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


class Service:
    """``sc service run`` as a real process; its stderr goes to a file we can read."""

    def __init__(self, spec: StoreSpec, settings: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.log_path = settings.parent / f"service-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        cmd = [
            sys.executable, "-m", "sccli", "--db", spec.url, "--db-name", spec.db_name, "service", "run", str(settings),
            *args,
        ]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=self._log, env=env or service_env(), cwd=ROOT
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait(self, timeout: float = 30) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"service did not exit in {timeout}s; its log:\n{self.log()[-3000:]}") from None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


@pytest.fixture
def services() -> Iterator[Callable[..., Service]]:
    started: list[Service] = []

    def start(spec: StoreSpec, settings: Path, *args: str, env: dict[str, str] | None = None) -> Service:
        service = Service(spec, settings, *args, env=env)
        started.append(service)
        return service

    yield start
    for service in started:
        service.close()


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll ``predicate`` every 20 ms until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def make_queue(store: Store, settings: Path | None = None) -> JobQueue:
    """A queue with tiny retry delays; with ``settings`` it checks parameters as the service
    configured by that file will run them (plugins replacing built-in types included)."""
    from sccli.settings import load_settings

    loaded = load_settings(settings) if settings is not None else None
    return JobQueue(
        store, actor="cli:test@host", retry_base_seconds=0.0, retry_max_seconds=0.0, extra_types=PLUGINS,
        settings=loaded,
    )


def new_job(queue: JobQueue, job_type: str, dataset: str | None = None, **kwargs: Any) -> str:
    dataset = dataset or add_dataset(queue.store)
    return queue.create_job(dataset, job_type, kwargs.pop("parameters", None), **kwargs)


def process_gone(pid: int) -> bool:
    """True when ``pid`` no longer exists (or is a zombie waiting for a reaper that is not us)."""
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
