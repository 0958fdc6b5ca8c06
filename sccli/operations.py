"""Operator actions over many jobs (select, bulk retry/cancel, purge), job logs and waiting.

The CLI, the HTTP API and the web dashboard call these same functions; none of them raises for
one bad job id in a batch: each answer says which jobs were done and why the others were refused.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from sccli import domain
from sccli.clock import utcnow
from sccli.datasets import move_dataset
from sccli.domain import JobStatus
from sccli.errors import Conflict, InvalidInput, ScError
from sccli.events import job_purged
from sccli.store.base import JobQuery, Store

if TYPE_CHECKING:
    from sccli.queue import JobQueue
    from sccli.settings import Settings

#: The job statuses, in lifecycle order (for messages and choices).
STATUS_NAMES = tuple(s.value for s in JobStatus)
#: Statuses a wait ends on, and which of them count as success.
FINAL_STATUSES = (JobStatus.COMPLETED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
#: The longest duration accepted (100 years): older than that is older than any job, and a
#: longer one overflows the date arithmetic of a selection.
MAX_DURATION_SECONDS = 100 * 365 * 86400
#: How much of a log file is read from its end to find the last lines (bounded memory).
_TAIL_CHUNK = 64 * 1024


def parse_duration(text: str) -> float:
    """``30s``, ``30m``, ``2h``, ``7d``, ``1w`` (or plain seconds) → seconds.

    >>> parse_duration("2h")
    7200.0
    """
    match = _DURATION.fullmatch(str(text))
    if not match:
        raise InvalidInput(f"bad duration {str(text)[:60]!r} (use e.g. 30m, 2h, 7d)")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > MAX_DURATION_SECONDS:
        raise InvalidInput(f"duration {str(text)[:60]!r} is longer than 100 years (use e.g. 30m, 2h, 7d)")
    return seconds


def parse_start_time(text: str, option: str = "--at") -> datetime:
    """An ISO 8601 time (``2026-12-08T03:00``, ``…Z``, ``…+01:00``; no zone = UTC) → aware UTC."""
    from sccli.clock import as_utc

    try:
        value = datetime.fromisoformat(str(text).strip())
    except ValueError:
        raise InvalidInput(
            f"{option}: bad time {str(text)[:60]!r} (use ISO 8601, e.g. 2026-12-08T03:00 or "
            "2026-12-08T03:00+01:00; no zone = UTC)"
        ) from None
    return as_utc(value)


def start_of(at: str | None, later: str | None) -> tuple[datetime | None, float | None]:
    """``--at`` / ``--in`` of a command → (start time, delay in seconds); at most one is given."""
    if at is not None and later is not None:
        raise InvalidInput("give --at or --in, not both")
    return (parse_start_time(at) if at is not None else None), (parse_duration(later) if later is not None else None)


def _as_list(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, str) else [str(getattr(v, "value", v)) for v in value]
    return values or None


def select_jobs(
    queue: JobQueue,
    status: str | Sequence[str] | None = None,
    job_type: str | Sequence[str] | None = None,
    dataset: str | None = None,
    older_than_seconds: float | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Jobs matching every given filter, newest first: ``status`` and ``job_type`` (one or
    several), ``dataset`` (uuid) and ``older_than_seconds`` (created longer ago than that)."""
    statuses = _as_list(status)
    for s in statuses or []:
        if s not in STATUS_NAMES:
            raise InvalidInput(f"unknown job status {s!r} ({', '.join(STATUS_NAMES)})")
    types = _as_list(job_type)
    for t in types or []:
        queue.check_type(t)
    if older_than_seconds is not None and older_than_seconds < 0:
        raise InvalidInput(f"older_than_seconds must not be negative, got {older_than_seconds!r}")
    created_before = utcnow() - timedelta(seconds=older_than_seconds) if older_than_seconds is not None else None
    query = JobQuery(status=statuses, job_type=types, dataset_uuid=dataset, created_before=created_before)
    return queue.list_jobs(query, limit=limit)


def count_selected(
    queue: JobQueue,
    status: str | Sequence[str] | None = None,
    job_type: str | Sequence[str] | None = None,
    dataset: str | None = None,
    older_than_seconds: float | None = None,
) -> int:
    """How many jobs :func:`select_jobs` would return without a limit (counted in the database)."""
    created_before = utcnow() - timedelta(seconds=older_than_seconds) if older_than_seconds is not None else None
    query = JobQuery(
        status=_as_list(status), job_type=_as_list(job_type), dataset_uuid=dataset, created_before=created_before
    )
    return queue.store.count_jobs(query)


def _bulk(job_ids: Sequence[str], action: Callable[[str], Any]) -> dict[str, Any]:
    done: list[str] = []
    refused: list[dict[str, str]] = []
    for job_id in dict.fromkeys(job_ids):  # each id once, in the order given
        try:
            action(job_id)
            done.append(job_id)
        except ScError as exc:
            refused.append({"job_id": job_id, "reason": str(exc)})
    return {"done": done, "refused": refused}


def bulk_retry(
    queue: JobQueue, job_ids: Sequence[str], actor: str | None = None, delay_seconds: float = 0.0
) -> dict[str, Any]:
    """Retry each failed or cancelled job (``delay_seconds`` later: scheduled);
    ``{"done": [ids], "refused": [{job_id, reason}]}``."""
    return _bulk(job_ids, lambda job_id: queue.retry(job_id, actor=actor, delay_seconds=delay_seconds))


def bulk_cancel(
    queue: JobQueue, job_ids: Sequence[str], reason: str | None = None, actor: str | None = None
) -> dict[str, Any]:
    """Cancel each pending job (running ones get ``cancel_requested``); same answer as :func:`bulk_retry`."""
    return _bulk(job_ids, lambda job_id: queue.cancel(job_id, reason, actor=actor))


def purge_pending(queue: JobQueue, job_type: str, actor: str | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Delete every pending or scheduled job of ``job_type`` (never one claimed meanwhile).

    Each deletion is logged as a ``job_events`` record (``to: "purged"``) that outlives the job,
    and the job's dataset gets the type's error status with the reason, as a cancel would.
    Returns ``{"job_type", "dry_run", "purged": [ids], "skipped": [ids]}``.
    """
    queue.check_type(job_type)
    who = actor or queue.actor
    waiting = [s.value for s in domain.WAITING_STATUSES]
    pending = queue.list_jobs(JobQuery(status=waiting, job_type=[job_type]), limit=None)
    if dry_run:
        return {"job_type": job_type, "dry_run": True, "purged": [j["job_id"] for j in pending], "skipped": []}
    purged, skipped = [], []
    reason = f"pending {job_type} job purged by {who}"
    stages = domain.DATASET_STAGES.get(job_type)
    for job in pending:
        # Conditional on its status as read, one at a time: a job claimed or promoted meanwhile is left alone.
        if not queue.store.delete_jobs(JobQuery(job_ids=[job["job_id"]], status=[job["status"]])):
            skipped.append(job["job_id"])
            continue
        now = utcnow()
        queue.store.insert_event(job_purged(job["job_id"], job["status"], at=now, actor=who, reason=reason))
        if stages:
            move_dataset(
                queue.store, job["dataset_uuid"], stages.error, actor=who, reason="job purged", job_id=job["job_id"],
                error_message=reason,
            )
        purged.append(job["job_id"])
    return {"job_type": job_type, "dry_run": False, "purged": purged, "skipped": skipped}


def job_log_path(job: dict[str, Any], settings: Settings) -> Path:
    """Where the service writes the job's log: ``<log_dir>/sc_job_<job_id>.log``."""
    return Path(settings.log_dir) / f"sc_job_{job['job_id']}.log"


def job_log_tail(job: dict[str, Any], settings: Settings, lines: int = 200) -> dict[str, Any]:
    """The job's last ``lines`` log lines: from its log file when it is on this host
    (``source: "file"``), else from the job's ``logs`` kept in the store (``source: "store"``).
    A log file that is a link or a special file is never read: ``refused`` says why."""
    from sccli.joblog_files import UnsafeLogFile, open_for_read

    path = job_log_path(job, settings)
    refused = None
    try:
        fh = open_for_read(settings.log_dir, str(job["job_id"]))
    except UnsafeLogFile as exc:
        fh, refused = None, str(exc)
    except OSError:
        fh = None
    if fh is not None:
        with fh:
            return {"source": "file", "path": str(path), "lines": tail_lines(fh, lines)}
    entries = [e.get("message", "") if isinstance(e, dict) else str(e) for e in job.get("logs") or []]
    text = [line for entry in entries for line in str(entry).splitlines()]
    found = {"source": "store", "path": str(path), "lines": text[-lines:] if lines > 0 else []}
    return {**found, "refused": refused} if refused else found


def tail_lines(fh: BinaryIO, lines: int) -> list[str]:
    """The last ``lines`` lines of an open text file, reading only as much of its end as needed."""
    if lines <= 0:
        return []
    fh.seek(0, 2)
    end = fh.tell()
    data, pos = b"", end
    while pos > 0 and data.count(b"\n") <= lines:
        step = min(_TAIL_CHUNK, pos)
        pos -= step
        fh.seek(pos)
        data = fh.read(step) + data
    return data.decode("utf-8", errors="replace").splitlines()[-lines:]


def wait_for_job(
    queue: JobQueue,
    job_id: str,
    timeout: float | None = None,
    poll: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Wait until the job ends (or ``timeout`` seconds pass).

    Returns ``{"job_id", "status", "timed_out", "job"}``; raises NotFound for an unknown job
    (or one deleted while waiting).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        job = queue.require_job(job_id)
        if job["status"] in FINAL_STATUSES:
            return {"job_id": job_id, "status": job["status"], "timed_out": False, "job": job}
        if deadline is not None and time.monotonic() >= deadline:
            return {"job_id": job_id, "status": job["status"], "timed_out": True, "job": job}
        remaining = poll if deadline is None else max(0.0, min(poll, deadline - time.monotonic()))
        sleep(remaining)


def active_job(queue: JobQueue, dataset_uuid: str, job_type: str) -> dict[str, Any] | None:
    """The active (scheduled, pending or running) job of this type for the dataset, if any
    (the one a duplicate hits)."""
    active = [s.value for s in domain.ACTIVE_STATUSES]
    found = queue.list_jobs(JobQuery(status=active, job_type=[job_type], dataset_uuid=dataset_uuid), limit=1)
    return found[0] if found else None


def create_job_naming_duplicate(queue: JobQueue, dataset_uuid: str, job_type: str, *args: Any, **kwargs: Any) -> str:
    """:meth:`JobQueue.create_job`, whose duplicate error names the job already active."""
    try:
        return queue.create_job(dataset_uuid, job_type, *args, **kwargs)
    except Conflict as exc:
        raise naming_active_job(
            queue, dataset_uuid, job_type, exc, "; see `sc job show {id}`, or pass --allow-duplicate"
        ) from exc


def naming_active_job(queue: JobQueue, dataset_uuid: str, job_type: str, error: Conflict, hint: str = "") -> Conflict:
    """``error`` (a refused duplicate) naming the job already active for the dataset and type."""
    existing = active_job(queue, dataset_uuid, job_type)
    if existing is None:
        return error
    return Conflict(f"{error}: job {existing['job_id']} ({existing['status']})" + hint.format(id=existing["job_id"]))


def prune_services(
    store: Store, older_than_seconds: float, stale_after_seconds: float, dry_run: bool = False
) -> list[dict[str, Any]]:
    """Remove the ``workers`` documents of services that stopped or died more than
    ``older_than_seconds`` ago (by their last heartbeat); live services are never touched.
    Returns the documents removed (or that would be, with ``dry_run``)."""
    from sccli.service.status import service_rows

    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    gone = [
        row for row in service_rows(store, stale_after_seconds)
        if row["state"] in ("stopped", "dead") and (row.get("heartbeat_at") is None or row["heartbeat_at"] < cutoff)
    ]
    if not dry_run:
        for row in gone:
            store.delete_worker(row["worker_id"])
    return gone
