"""The retention duty: the service side of :mod:`sccli.monitor.retention` (settings ``retention``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("sccli.service")

#: How often a service checks whether today's retention is due (and not done).
IDLE_PERIOD = 60.0
#: Between two steps of a retention under way.
BUSY_PERIOD = 1.0


class RetentionDuty:
    """One step of today's retention per period, when this service holds the lease."""

    name = "retention"
    #: Told of a failed step (``event, name, reason``): the notify duty, when notify is on.
    on_failure: Callable[[str, str, str], None] | None = None

    def __init__(self, settings: Any, actor: str, worker_id: str) -> None:
        self.retention, self.log_dir = settings.retention, settings.log_dir
        self.data_dirs = [str(d) for d in settings.data_dirs]
        self.holder = f"{worker_id}:{actor}"
        self.period = IDLE_PERIOD

    def run(self, queue: Any) -> dict[str, Any] | None:
        from sccli.monitor.retention import retention_step

        return retention_step(
            queue.store, self.retention, holder=self.holder, log_dir=self.log_dir, data_dirs=self.data_dirs
        )

    def done(self, result: dict[str, Any] | None, error: BaseException | None) -> None:
        if error is not None:
            log.warning("retention step failed: %s", error)
            if self.on_failure is not None:
                self.on_failure("retention_failed", "retention", str(error))
        self.period = BUSY_PERIOD if result is not None and not result["done"] else IDLE_PERIOD
        if result is not None:
            log.info(
                "retention %s: deleted %s%s",
                result["period"],
                result["deleted"],
                "" if result["done"] else " (continuing)",
            )
