"""``sc service status``: services as their heartbeat documents describe them, dead ones marked."""

from __future__ import annotations

import socket
from datetime import datetime
from typing import Any

from sccli.clock import utcnow
from sccli.service.pidfile import pid_alive
from sccli.store.base import Store


def service_state(worker: dict[str, Any], stale_after_seconds: float, now: datetime, host: str) -> str:
    """running, draining, stopped, or dead (no heartbeat for ``stale_after_seconds``, or its
    process is gone from this host) for a service that did not stop cleanly."""
    status = str(worker.get("status") or "running")
    if status == "stopped":
        return status
    beat = worker.get("heartbeat_at")
    if beat is None or (now - beat).total_seconds() > stale_after_seconds:
        return "dead"
    if worker.get("host") == host and isinstance(worker.get("pid"), int) and not pid_alive(worker["pid"]):
        return "dead"
    return status


def service_rows(store: Store, stale_after_seconds: float) -> list[dict[str, Any]]:
    """One row per service document, newest heartbeat first, with ``state`` and ``beat_age_s``."""
    now, host = utcnow(), socket.gethostname()
    rows = []
    for worker in store.list_workers():
        beat = worker.get("heartbeat_at")
        rows.append({
            **worker,
            "state": service_state(worker, stale_after_seconds, now, host),
            "beat_age_s": None if beat is None else round((now - beat).total_seconds(), 1),
            "running": len(worker.get("running_jobs") or []),
            "types": worker.get("types") or "all",
        })
    return rows
