"""The service's memory does not grow with the jobs it has run: every per-job structure is let go
once the job is recorded (counted in objects, not timed; RSS figures are in bench/README.md)."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sccli.queue import JobQueue
from sccli.service.config import ServiceOptions, validate_service_settings
from sccli.service.supervisor import Supervisor
from sccli.settings import load_settings
from tests.conftest import make_spec
from tests.service.conftest import write_settings

DATASET = "00000000-0000-4000-8000-000000000000"
JOBS, FIRST, LAST = 800, 300, 750


def live_objects() -> tuple[int, int]:
    """Objects the collector tracks (instances, most containers) and memory blocks held by
    Python's allocator (every object: also strings and dicts of strings, which it does not track)."""
    gc.collect()
    return len(gc.get_objects()), sys.getallocatedblocks()


def test_objects_stay_flat_from_job_300_to_job_750(tmp_path: Path, monkeypatch: Any) -> None:
    """Live objects of the service after 300 and after 750 recorded jobs: a structure that kept
    something per job (a dict entry, a closed child, a log pump, an op name) grows with them."""
    # pytest's log capture keeps every record it is handed: at INFO (left so by an earlier test in
    # the same worker) that is a record per job held by the harness, not by the service.
    logger = logging.getLogger("sccli")
    monkeypatch.setattr(logger, "level", logger.level)  # restored after the test
    logger.setLevel(logging.WARNING)  # setLevel also clears the loggers' level cache
    spec = make_spec("sqlite", tmp_path)
    settings = load_settings(write_settings(tmp_path, workers=2))
    queue = JobQueue(spec.open(), retry_base_seconds=0, retry_max_seconds=0, extra_types=settings.handlers)
    for _ in range(JOBS):
        queue.create_job(DATASET, "ok", allow_missing_dataset=True, allow_duplicate=True)
    supervisor = Supervisor(queue, settings, validate_service_settings(settings), ServiceOptions(until_idle=True))
    counts: dict[int, tuple[int, int]] = {}
    recorded: list[int] = [0]
    told: Callable[..., Any] = supervisor.outcomes.recorded

    def count(note: Any, result: Any, error: BaseException | None) -> None:
        told(note, result, error)
        recorded[0] += 1
        if recorded[0] in (FIRST, LAST):
            counts[recorded[0]] = live_objects()

    supervisor.outcomes.recorded = count  # type: ignore[method-assign]
    assert supervisor.run() == 0
    assert recorded[0] == JOBS
    (objects, blocks), (objects_after, blocks_after) = counts[FIRST], counts[LAST]
    # Measured: -56 to +19 objects and +219 to +306 blocks (caches settling); keeping a dict of
    # strings per job added 1,514 blocks, a job's RunningJob would add 450 objects.
    assert objects_after - objects < (LAST - FIRST) // 2, counts
    assert blocks_after - blocks < 2 * (LAST - FIRST), counts
    assert not supervisor.jobs and not supervisor.by_pid and not supervisor.by_request
    assert not supervisor.launcher._pending and not supervisor.launcher._events
