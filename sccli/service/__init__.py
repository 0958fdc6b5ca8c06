"""The background service (``sc service run``): supervisor, job children, PID file, status.

Imports stay lazy: the template process imports this package too and must start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sccli.service.config import ServiceOptions
    from sccli.settings import Settings
    from sccli.store.base import Store

__all__ = ["run_service"]


def run_service(store: Store, settings: Settings, options: ServiceOptions) -> int:
    """Validate the settings, take the PID file and serve until stopped; the exit code."""
    import logging

    from sccli.queue import JobQueue
    from sccli.service.config import validate_service_settings
    from sccli.service.logs import setup_logging
    from sccli.service.pidfile import PidFile
    from sccli.service.supervisor import Supervisor

    types = validate_service_settings(settings)
    store.tune_for_service(settings)  # before the first connection: the service's timeout and cache
    pid_file = PidFile(options.pid_file) if options.pid_file else None
    stale = pid_file.acquire() if pid_file is not None else None
    setup_logging(options.verbose, options.log_json)
    if stale:
        logging.getLogger("sccli.service").info(
            "replaced stale PID file %s (pid %s was not running)", options.pid_file, stale
        )
    try:
        queue = JobQueue.from_settings(store, settings)
        queue.controls_ttl = settings.poll_interval_seconds  # a pause is seen at the next poll
        if not store.atomic_followups:  # outbox pulls of events alone ride on the heartbeat's turn
            from sccli.followups import OutboxAcks

            queue.lifecycle.acks = OutboxAcks()
        return Supervisor(queue, settings, types, options).run()
    finally:
        if pid_file is not None:
            pid_file.release()
