"""The systems of the peers bench, each with 2 workers and its own defaults otherwise.

A system resets its state, enqueues jobs, starts and stops its workers and says how many jobs are
done; the measuring is in :mod:`peers_driver`. sccli runs from this repository (``python -m
sccli`` in the project's venv); RQ and Huey from the bench venv, on the bench's redis-server.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATASET = "00000000-0000-4000-8000-000000000000"
STOP_TIMEOUT = 30.0


class System:
    """Worker processes started with :meth:`spawn` and stopped, with all they left, at the end."""

    name = ""
    describe = ""

    def __init__(self, workdir: Path, redis_url: str) -> None:
        self.workdir = workdir
        self.redis_url = redis_url
        self.procs: list[subprocess.Popen[bytes]] = []
        self._roots: list[Any] = []

    def spawn(self, cmd: list[str], env: dict[str, str] | None = None) -> None:
        """Start one worker process (its output to ``<workdir>/<name>.log``)."""
        import psutil

        with (self.workdir / f"{self.name}.log").open("ab") as log:
            proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=log, stderr=log,
                                    stdin=subprocess.DEVNULL)
        self.procs.append(proc)
        self._roots.append(psutil.Process(proc.pid))

    def roots(self) -> list[Any]:
        """The worker processes (psutil), whose descendants count too."""
        return self._roots

    def stop_workers(self) -> None:
        """SIGTERM each worker, SIGKILL after 30 s, then kill any descendant still there."""
        import psutil

        left = []
        for root in self._roots:
            try:
                left.extend(root.children(recursive=True))
            except psutil.Error:
                pass
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for child in left:
            try:
                child.kill()
            except psutil.Error:
                pass
        self.procs, self._roots = [], []

    def failed_count(self) -> int | None:
        """Jobs that failed (None when the system does not say)."""
        return None


class Sccli(System):
    """``sc service run`` with 2 workers on SQLite, a plugin handler, a forked process per job."""

    name = "sccli"
    describe = "sc service run, 2 workers, SQLite, a forked child per job (own process group and log), default settings"
    #: More service settings (``bench/pickup.py --set key=value``); the defaults otherwise.
    extra_settings: dict[str, Any] = {}

    def reset(self) -> None:
        from sccli.queue import JobQueue
        from sccli.store import open_store

        self.dir = self.workdir / "sccli"
        shutil.rmtree(self.dir, ignore_errors=True)
        dirs = {key: str(self.dir / key) for key in ("in_data_dir", "out_data_dir", "sync_data_dir", "auth_dir")}
        for path in dirs.values():
            Path(path).mkdir(parents=True)
        settings = {**dirs, "log_dir": str(self.dir / "logs"), "workers": 2, "retry_base_seconds": 0,
                    "handlers": {"noop": "peers_jobs:sccli_noop", "mark": "peers_jobs:sccli_mark"},
                    **self.extra_settings}
        self.settings = self.dir / "settings.json"
        self.settings.write_text(json.dumps(settings))
        self.db = f"sqlite:///{self.dir / 'bench.db'}"
        self.queue = JobQueue(open_store(self.db), extra_types={"noop", "mark"})

    def enqueue_noops(self, n: int) -> None:
        for _ in range(n):
            self.queue.create_job(DATASET, "noop", allow_missing_dataset=True, allow_duplicate=True)

    def enqueue_mark(self, port: int, token: str) -> None:
        self.queue.create_job(DATASET, "mark", {"port": port, "token": token}, allow_missing_dataset=True,
                              allow_duplicate=True)

    def start_workers(self) -> None:
        path = os.pathsep.join([str(BENCH), str(ROOT), os.environ.get("PYTHONPATH", "")])
        self.spawn([sys.executable, "-m", "sccli", "--db", self.db, "service", "run", str(self.settings)],
                   {"PYTHONPATH": path})

    def done_count(self) -> int:
        from sccli.domain import JobStatus
        from sccli.store.base import JobQuery

        return self.queue.store.count_jobs(JobQuery(status=[JobStatus.COMPLETED, JobStatus.FAILED]))

    def failed_count(self) -> int | None:
        from sccli.domain import JobStatus
        from sccli.store.base import JobQuery

        return self.queue.store.count_jobs(JobQuery(status=[JobStatus.FAILED]))


class Rq(System):
    """Two ``rq worker`` processes (the forking ``Worker``: a work horse per job) on Redis db 1."""

    name = "rq"
    describe = "2 x `rq worker` (rq.worker.Worker: a forked work horse per job), Redis"

    def reset(self) -> None:
        from redis import Redis
        from rq import Queue

        self.url = f"{self.redis_url}/1"
        self.conn = Redis.from_url(self.url)
        self.conn.flushdb()
        self.queue = Queue("default", connection=self.conn)

    def enqueue_noops(self, n: int) -> None:
        for _ in range(n):
            self.queue.enqueue("peers_jobs.noop")

    def enqueue_mark(self, port: int, token: str) -> None:
        self.queue.enqueue("peers_jobs.mark", port, token)

    def start_workers(self) -> None:
        rq = str(Path(sys.executable).parent / "rq")
        for i in range(2):
            self.spawn([rq, "worker", "-u", self.url, "-P", str(BENCH), "-w", "rq.worker.Worker", "-q",
                        "-n", f"peers-{os.getpid()}-{i}", "default"])

    def done_count(self) -> int:
        return int(self.conn.zcard("rq:finished:default")) + int(self.conn.zcard("rq:failed:default"))

    def failed_count(self) -> int | None:
        return int(self.conn.zcard("rq:failed:default"))


class HueyRedis(System):
    """``huey_consumer -w 2 -k process`` (2 long-lived worker processes), RedisHuey on Redis db 2."""

    name = "huey-redis"
    describe = "huey_consumer -w 2 -k process (2 long-lived worker processes), RedisHuey (blocking dequeue)"
    storage = "redis"

    def env(self) -> dict[str, str]:
        return {"PEERS_HUEY": self.storage, "PEERS_REDIS_URL": f"{self.redis_url}/2",
                "PEERS_HUEY_DB": str(self.workdir / "huey.db")}

    def reset(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            (self.workdir / f"huey.db{suffix}").unlink(missing_ok=True)
        os.environ.update(self.env())
        import peers_huey

        self.app = peers_huey
        self.app.huey.flush()

    def enqueue_noops(self, n: int) -> None:
        for _ in range(n):
            self.app.noop()

    def enqueue_mark(self, port: int, token: str) -> None:
        self.app.mark(port, token)

    def start_workers(self) -> None:
        consumer = str(Path(sys.executable).parent / "huey_consumer")
        path = os.pathsep.join([str(BENCH), os.environ.get("PYTHONPATH", "")])
        self.spawn([consumer, "peers_huey.huey", "-w", "2", "-k", "process", "-q"], {**self.env(), "PYTHONPATH": path})

    def done_count(self) -> int:
        return int(self.app.huey.result_count())


class HueySqlite(HueyRedis):
    """The same consumer on SqliteHuey (a polling consumer: 0.1 s, backed off ×1.15 to 10 s)."""

    name = "huey-sqlite"
    describe = "huey_consumer -w 2 -k process, SqliteHuey (polls: 0.1 s backed off x1.15 up to 10 s)"
    storage = "sqlite"


SYSTEMS: dict[str, type[Any]] = {cls.name: cls for cls in (Sccli, Rq, HueyRedis, HueySqlite)}
