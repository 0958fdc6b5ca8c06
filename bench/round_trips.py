"""MongoDB round trips per job through a running service (run by hand, against the wire server).

    /work/shared/mongo-wire-server/start 27140
    .venv/bin/python bench/round_trips.py --url mongodb://127.0.0.1:27140/ [--jobs 200] [--workers 2]

Every command the service's client sends is counted by a pymongo ``CommandListener`` while
``sc service run --until-idle`` (the real supervisor, in this process so its client can be
counted; handlers run in forked children as always) runs N trivial jobs, then N dataset-chain
jobs (``google_sync`` → ``dataset_conversion``, instant stand-in handlers). Creation is counted
apart (``JobQueue.create_job``, as the CLI and the API make it). The service's figure includes
what a unit test leaves out: its polls' ``queue_controls`` reads, heartbeats, ``workers``
upserts, outbox acknowledgements, sweeps and idle checks, divided by the jobs.

The wire server does not enforce unique secondary indexes, so its creations keep the
``active_key``/``job_id`` reads and its events are upserted one by one; ``--enforced`` counts as a
real MongoDB would (the store told the server enforces them: what every real server answers).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from pymongo import MongoClient, monitoring  # noqa: E402

_DRIVER = {"hello", "ismaster", "isMaster", "endSessions", "saslStart", "saslContinue", "buildInfo", "ping"}


class Listener(monitoring.CommandListener):
    """Every (command, collection) the client sends."""

    def __init__(self) -> None:
        self.seen: Counter[tuple[str, str]] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name not in _DRIVER:
            self.seen[(event.command_name, str(event.command.get(event.command_name)))] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def take(self) -> Counter[tuple[str, str]]:
        out, self.seen = self.seen, Counter()
        return out


def settings_file(tmp: Path, workers: int) -> Path:
    dirs = {key: str(tmp / key) for key in ("in_data_dir", "out_data_dir", "sync_data_dir", "auth_dir")}
    for path in dirs.values():
        Path(path).mkdir(exist_ok=True)
    instant = "tests.service.chain_plugins:instant"
    data = {
        **dirs, "log_dir": str(tmp / "logs"), "workers": workers, "poll_interval_seconds": 0.1,
        "heartbeat_seconds": 2.0, "retry_base_seconds": 0,
        "handlers": {"noop": "throughput:noop", "google_sync": instant, "dataset_conversion": instant},
    }
    path = tmp / "settings.json"
    path.write_text(json.dumps(data))
    return path


def run(url: str, jobs: int, workers: int, enforced: bool) -> dict[str, Any]:
    from sccli.queue import JobQueue
    from sccli.service import run_service
    from sccli.service.config import ServiceOptions
    from sccli.settings import load_settings
    from sccli.store.mongo import MongoStore
    from sccli.store.mongo_support import ActiveKeys

    listener = Listener()
    client: Any = MongoClient(url, event_listeners=[listener], tz_aware=True)
    name = f"bench_rt_{uuid.uuid4().hex[:8]}"
    store = MongoStore.from_client(client, name)
    store.ensure_schema()
    if enforced:
        store.active_keys = ActiveKeys(lambda: store.coll("jobs"), lambda: store.coll("controls"), enforced=True)
    out: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = load_settings(settings_file(Path(tmp), workers))
            queue = JobQueue.from_settings(store, settings, check_paths=False)
            for kind, job_type, params in (("trivial", "noop", None), ("chain", "google_sync", {"data_url": "folder"})):
                datasets = [str(uuid.uuid4()) for _ in range(jobs)]
                for ds in datasets:
                    store.insert_dataset({"uuid": ds, "name": ds, "status": "submitted"})
                store.now()
                listener.take()
                for ds in datasets:
                    queue.create_job(ds, job_type, params)
                create = listener.take()
                assert run_service(store, settings, ServiceOptions(until_idle=True)) == 0
                service = listener.take()
                out[kind] = {"create": create, "service": service}
    finally:
        client.drop_database(name)
        client.close()
    return out


def show(results: dict[str, Any], jobs: int) -> None:
    for kind, parts in results.items():
        total = sum(sum(c.values()) for c in parts.values())
        create, service = (sum(parts[p].values()) / jobs for p in ("create", "service"))
        print(f"{kind}: {total / jobs:.2f} round trips per job (create {create:.2f}, service {service:.2f})")
        for part, counts in parts.items():
            for (command, coll), n in sorted(counts.items(), key=lambda kv: -kv[1]):
                print(f"    {part:7} {command:14} {coll:16} {n / jobs:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="a wire test server (or a scratch MongoDB)")
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--enforced", action="store_true", help="count as a server that enforces unique indexes")
    args = parser.parse_args()
    show(run(args.url, args.jobs, args.workers, args.enforced), args.jobs)


if __name__ == "__main__":
    main()
