"""``sc service status``: services as their heartbeat documents describe them, dead ones marked."""

from __future__ import annotations

import socket
from datetime import datetime
from typing import Any

from sccli.clock import utcnow
from sccli.domain import ServiceState, is_live_service
from sccli.service.pidfile import looks_like_service, pid_alive, started_by
from sccli.store.base import Store

#: States of a service that still serves (or finishes) jobs.
LIVE_STATES = (ServiceState.RUNNING.value, ServiceState.DRAINING.value)


def service_state(worker: dict[str, Any], stale_after_seconds: float, now: datetime, host: str) -> str:
    """running, draining, stopped, or dead (no heartbeat for ``stale_after_seconds``, or its
    process is gone from this host, or its PID now belongs to a later process) for a service that
    did not stop cleanly."""
    status = str(worker.get("status") or ServiceState.RUNNING.value)
    if status == ServiceState.STOPPED:
        return status
    if not is_live_service(worker, now, stale_after_seconds):
        return ServiceState.DEAD.value
    if worker.get("host") == host and isinstance(worker.get("pid"), int) and not is_same_service(worker):
        return ServiceState.DEAD.value
    return status


def is_same_service(worker: dict[str, Any]) -> bool:
    """Whether the local process with the document's pid is still that service (not a reused PID)."""
    pid = worker["pid"]
    return pid > 1 and pid_alive(pid) and started_by(pid, worker.get("started_at"))


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


def local_service_pid(store: Store, stale_after_seconds: float, worker_id: str | None = None) -> tuple[int, str]:
    """(pid, worker_id) of the live service to signal on this host: the one named, or the only one.

    A service on another host cannot be signalled from here; several live local services need
    ``worker_id`` (or a PID file) to choose.
    """
    from sccli.errors import InvalidInput, NotFound

    host = socket.gethostname()
    live = [r for r in service_rows(store, stale_after_seconds) if r["state"] in LIVE_STATES]
    if worker_id is not None:
        named = [r for r in live if r.get("worker_id") == worker_id]
        if not named:
            raise NotFound(f"no live service {worker_id} (see sc service status)")
        if named[0].get("host") != host:
            raise InvalidInput(f"service {worker_id} runs on host {named[0].get('host')}; run sc service stop there")
        if not looks_like_service(int(named[0]["pid"])):
            raise InvalidInput(
                f"pid {named[0]['pid']} of service {worker_id} is not an sccli service; nothing signalled"
            )
        return int(named[0]["pid"]), worker_id
    local = [r for r in live if r.get("host") == host]
    for row in local:
        if not looks_like_service(int(row["pid"])):
            raise InvalidInput(
                f"pid {row['pid']} of service {row.get('worker_id')} is not an sccli service; nothing signalled"
            )
    if not local:
        raise NotFound(f"no live service on {host} (see sc service status)")
    if len(local) > 1:
        names = ", ".join(str(r.get("worker_id")) for r in local)
        raise InvalidInput(f"{len(local)} live services on {host} ({names}): choose one with --worker-id or --pid-file")
    return int(local[0]["pid"]), str(local[0].get("worker_id"))
