"""The forker's children: a service's children run one after another in one slot, each drawing
random numbers of its own (random's at-fork hook reseeds each child).
"""

from __future__ import annotations

from pathlib import Path

from sccli.domain import JobStatus
from sccli.queue import JobQueue
from sccli.store.base import JobQuery
from tests.conftest import StoreSpec, add_dataset
from tests.service.conftest import wait_for, write_settings


def test_one_slot_never_runs_two_handlers_at_once(sqlite_spec: StoreSpec, tmp_path: Path, services) -> None:
    """One slot: each handler starts after the last one returned; every child draws its own numbers."""
    settings = write_settings(tmp_path, workers=1, handlers={"span": "tests.service.slot_plugins:span"})
    store = sqlite_spec.open()
    queue = JobQueue(store, actor="cli:test@host", retry_base_seconds=0.0, extra_types={"span": ""})
    spans = tmp_path / "spans.txt"
    for _ in range(20):
        queue.create_job(add_dataset(store), "span", {"file": str(spans)})
    service = services(sqlite_spec, settings, "--until-idle")
    assert service.wait(120) == 0, service.log()[-3000:]
    done = wait_for(lambda: store.find_jobs(JobQuery(status=[JobStatus.COMPLETED.value]), limit=None), what="20 jobs")
    assert len(done) == 20
    lines = spans.read_text().split("\n")[:-1]
    assert len(lines) == 40
    for start, end in zip(lines[::2], lines[1::2], strict=True):
        assert start.startswith("start ") and end == "end " + start.split()[1], lines
    assert len({job["result"]["draw"] for job in done}) == 20
