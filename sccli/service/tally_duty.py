"""The tally duty: a service stores the day figures reports read before anyone asks for them.

After a bulk load, an import or an upgrade that drops the stored figures, the first report would
fold every settled day of its window from the job rows (seconds at a million jobs). The duty
builds the missing days a bounded slice at a time (:func:`sccli.monitor.tally.prebuild`), so a
service never spends more than ``BUDGET_SECONDS`` of its store thread per turn; while days are
left it comes back soon. Stored figures are kept true by the tallies' own versioning, so any
number of services may run it at once (a lost race stores nothing).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("sccli.service")


class TallyDuty:
    """Build the missing day figures in the background."""

    name = "tallies"
    #: Store-thread seconds per turn: claims and heartbeats wait behind it on the same thread.
    BUDGET_SECONDS = 0.5
    #: Between turns once every day is built (a new day settles once a day).
    IDLE_PERIOD = 600.0
    #: Between turns while days are missing.
    BUSY_PERIOD = 1.0

    def __init__(self) -> None:
        self.period = self.IDLE_PERIOD

    def run(self, queue: Any) -> tuple[int, int]:
        from sccli.monitor.tally import prebuild

        return prebuild(queue.store, self.BUDGET_SECONDS)

    def done(self, result: tuple[int, int] | None, error: BaseException | None) -> None:
        if error is not None:
            log.warning("building day tallies failed: %s", error)
            return
        built, left = result or (0, 0)
        self.period = self.BUSY_PERIOD if left else self.IDLE_PERIOD
        if built:
            log.info("day tallies: %d built, %d left", built, left)
