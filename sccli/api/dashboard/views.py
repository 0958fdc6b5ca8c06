"""What each page shows, gathered from the core (monitor, explain, operations, store queries).

Each function takes the application's :class:`~sccli.api.routes.ApiState` and returns the
template's context; nothing here renders HTML or knows about requests, so ``bench/dashboard.py``
and the tests can call the same code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sccli import domain
from sccli.api.routes import ApiState
from sccli.clock import utcnow
from sccli.domain import JobStatus
from sccli.errors import InvalidInput, NotFound
from sccli.monitor import tally
from sccli.store.base import JobQuery

STATUSES = [s.value for s in JobStatus]
#: Jobs per page of the jobs list, and hours of the overview's chart.
PAGE_SIZE = 50
CHART_HOURS = 12
#: How many of the newest jobs of a filter an error-text search reads (the store has no text index).
ERROR_SCAN_LIMIT = 2000
ERROR_SCAN_BATCH = 500
#: Lines of a job's log shown on its page, and jobs of a dataset whose transitions are read.
LOG_LINES = 40
DATASET_JOBS = 50


def _monitor(state: ApiState) -> Any:
    from sccli.monitor import JobMonitor

    return JobMonitor(state.store, settings=state.settings, queue=state.queue)


def _reused(state: ApiState, key: Any, seconds: float, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``compute()``, or its result of less than ``seconds`` ago (shared by every browser)."""
    now = time.monotonic()
    hit = state.cache.get(key)
    if hit is None or now - hit[0] > seconds:
        hit = state.cache[key] = (now, compute())
    return hit[1]


# -- overview -----------------------------------------------------------------------------------
#: The overview is computed at most this often, however many browsers poll it: counting a
#: million jobs by status and type takes a few tenths of a second.
OVERVIEW_REUSE_SECONDS = 1.5


def overview(state: ApiState) -> dict[str, Any]:
    """Health and its issues, counts by status and type, services, the hourly chart, paused types."""
    return _reused(state, "overview", OVERVIEW_REUSE_SECONDS, lambda: _overview(state))


def _overview(state: ApiState) -> dict[str, Any]:
    from sccli.service.status import service_rows

    now = utcnow()
    by_type: dict[str, dict[str, int]] = {}
    totals = dict.fromkeys(STATUSES, 0)
    for row in tally.status_type_counts(state.store):
        status, job_type, count = str(row["status"]), str(row["job_type"]), int(row["count"])
        cell = by_type.setdefault(job_type, dict.fromkeys(STATUSES, 0))
        cell[status] = cell.get(status, 0) + count
        totals[status] = totals.get(status, 0) + count
    return {
        "now": now, "health": _monitor(state).get_health(), "totals": totals, "total": sum(totals.values()),
        "by_type": dict(sorted(by_type.items())),
        "services": service_rows(state.store, state.settings.stale_after_seconds),
        "hours": hourly_finished(state, now, CHART_HOURS), "paused": paused(state),
    }


def hourly_finished(state: ApiState, now: datetime, hours: int) -> list[dict[str, Any]]:
    """Completed and failed jobs per clock hour, the current (partial) hour last."""
    top = now.replace(minute=0, second=0, microsecond=0)
    out = []
    for back in range(hours - 1, -1, -1):
        start = top - timedelta(hours=back)
        query = JobQuery(
            status=[JobStatus.COMPLETED.value, JobStatus.FAILED.value], completed_after=start,
            completed_before=start + timedelta(hours=1),
        )
        counts = state.store.count_jobs_by("status", query)
        out.append(
            {
                "hour": start.strftime("%H:00"), "start": start, "completed": counts.get(JobStatus.COMPLETED.value, 0),
                "failed": counts.get(JobStatus.FAILED.value, 0),
            }
        )
    return out


def paused(state: ApiState) -> list[dict[str, Any]]:
    """Paused job types (``sc queue pause``) as ``[{job_type, reason, actor, at}]``; ``*`` is every type."""
    from sccli.pause import paused_types

    return [{"job_type": name, **info} for name, info in sorted(paused_types(state.store).items())]


# -- jobs list ----------------------------------------------------------------------------------
@dataclass
class JobFilter:
    """The jobs page's filters, checked (unknown status or type, malformed dataset UUID refused)."""

    status: list[str] = field(default_factory=list)
    job_type: list[str] = field(default_factory=list)
    dataset: str = ""
    error: str = ""
    page: int = 1
    param: list[str] = field(default_factory=list)  # key=value (see sccli.job_search)
    user: str = ""
    dataset_name: str = ""

    @property
    def searching(self) -> bool:
        """Whether a filter no index serves on its own is set (parameter, dataset owner or name)."""
        return bool(self.param or self.user or self.dataset_name)

    def check(self, state: ApiState) -> None:
        for s in self.status:
            if s not in STATUSES:
                raise InvalidInput(f"unknown job status {s!r} ({', '.join(STATUSES)})")
        for t in self.job_type:
            state.queue.check_type(t)
        if self.dataset and not domain.is_valid_uuid(self.dataset):
            raise InvalidInput(f"malformed dataset UUID {self.dataset!r} (expected 8-4-4-4-12 hex)")
        if self.page < 1:
            raise InvalidInput("page must be 1 or more")

    def query(self) -> JobQuery:
        return JobQuery(status=self.status or None, job_type=self.job_type or None, dataset_uuid=self.dataset or None)

    def link(self, page: int) -> str:
        """The query string of this filter at ``page``."""
        pairs = [("status", s) for s in self.status] + [("job_type", t) for t in self.job_type]
        pairs += [(k, v) for k, v in (("dataset", self.dataset), ("error", self.error)) if v]
        pairs += [("param", p) for p in self.param]
        pairs += [(k, v) for k, v in (("user", self.user), ("dataset_name", self.dataset_name)) if v]
        return urlencode([*pairs, ("page", str(page))])


def jobs_page(state: ApiState, wanted: JobFilter) -> dict[str, Any]:
    """One page of jobs with the total that match, in the order :func:`listing_order` names."""
    wanted.check(state)
    offset = (wanted.page - 1) * PAGE_SIZE
    if wanted.searching:
        return _search_page(state, wanted, offset)
    listing = Listing(state, wanted)
    scanned = None
    if wanted.error:
        jobs, total, scanned = _search_errors(listing, wanted.error, offset)
    else:
        total = state.store.count_jobs(wanted.query())
        jobs = listing.page(offset, PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    return {"jobs": jobs, "total": total, "page": wanted.page, "pages": pages, "filter": wanted, "scanned": scanned,
            "first": offset + 1, "order": listing.order}


def _search_page(state: ApiState, wanted: JobFilter, offset: int) -> dict[str, Any]:
    """A page of a parameter / dataset owner / dataset name search (``sccli.job_search``), newest first."""
    from sccli.job_search import JobSearch, parse_param_filter, search_jobs

    search = JobSearch(wanted.query(), [parse_param_filter(p) for p in wanted.param], wanted.user or None,
                       wanted.dataset_name or None, wanted.error or None)
    found = search_jobs(state.store, search, limit=PAGE_SIZE, offset=offset)
    return {
        "jobs": found.items, "total": found.total, "page": wanted.page, "pages": max(1, -(-found.total // PAGE_SIZE)),
        "filter": wanted, "scanned": None, "first": offset + 1, "order": "newest first", "notices": found.notices,
    }


FINISHED = {JobStatus.COMPLETED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value}
ACTIVE = [JobStatus.SCHEDULED.value, JobStatus.PENDING.value, JobStatus.RUNNING.value]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Listing:
    """The jobs of a filter, paged in an order the store's indexes give without sorting the
    whole match (at a million jobs a sort of every job of a type takes seconds):

    - a dataset, or no filter: newest first (by ``created_at``);
    - finished statuses: most recently finished first (``completed_at``);
    - pending or running: most recently changed first (``updated_at``);
    - a job type alone: its pending and running jobs (newest first), then its finished ones
      (most recently finished first).
    """

    def __init__(self, state: ApiState, wanted: JobFilter) -> None:
        self.store = state.store
        self.query = wanted.query()
        statuses = set(wanted.status)
        self.segments: list[tuple[JobQuery, tuple[tuple[str, int], ...]]]
        if wanted.dataset or not (statuses or wanted.job_type):
            self.order, self.segments = "newest first", [(self.query, (("created_at", -1),))]
        elif statuses and statuses <= FINISHED:
            self.order, self.segments = "most recently finished first", [(self.query, (("completed_at", -1),))]
        elif statuses:
            self.order, self.segments = "most recently changed first", [(self.query, (("updated_at", -1),))]
        else:
            active = JobQuery(status=ACTIVE, job_type=self.query.job_type)
            finished = JobQuery(job_type=self.query.job_type, completed_after=_EPOCH)
            self.order = "pending and running first (newest first), then finished (most recently finished first)"
            self.segments = [(active, (("created_at", -1),)), (finished, (("completed_at", -1),))]

    def page(self, offset: int, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` jobs from ``offset`` in this order."""
        out: list[dict[str, Any]] = []
        for number, (query, sort) in enumerate(self.segments):
            last = number == len(self.segments) - 1
            size = None if last else self.store.count_jobs(query)
            if size is not None and offset >= size:
                offset -= size
                continue
            out += self.store.find_jobs(query, sort=sort, limit=limit - len(out), offset=offset)
            offset = 0
            if len(out) >= limit:
                break
        return out


def _search_errors(listing: Listing, text: str, offset: int) -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
    """Jobs whose error contains ``text``, among the first ``ERROR_SCAN_LIMIT`` of the listing."""
    needle = text.lower()
    matches: list[dict[str, Any]] = []
    read = 0
    while read < ERROR_SCAN_LIMIT:
        batch = listing.page(read, ERROR_SCAN_BATCH)
        read += len(batch)
        matches += [j for j in batch if needle in str(j.get("error") or "").lower()]
        if len(batch) < ERROR_SCAN_BATCH:
            break
    more = read >= ERROR_SCAN_LIMIT and listing.store.count_jobs(listing.query) > read
    return matches[offset : offset + PAGE_SIZE], len(matches), {"read": read, "more": more}


# -- one job ------------------------------------------------------------------------------------
def job_detail(state: ApiState, job_id: str) -> dict[str, Any]:
    """Everything ``sc job show`` shows, plus the tail of its log."""
    from sccli import jobids
    from sccli.operations import job_log_tail
    from sccli.usage import attempt_rows

    job = jobids.job_detail(state.store, job_id, state.settings.stale_after_seconds)
    return {
        "job": job, "events": job.pop("events"), "dataset": job.pop("dataset"), "why": job.pop("explanation"),
        "log": job_log_tail(job, state.settings, LOG_LINES), "running": job.get("status") == JobStatus.RUNNING.value,
        "resources": attempt_rows(job),
    }


# -- failures -----------------------------------------------------------------------------------
def failures(state: ApiState, hours: float) -> dict[str, Any]:
    """Failure groups of the last ``hours`` by type and error signature, largest first."""
    if not 0 < hours <= 24 * 90:
        raise InvalidInput("hours must be more than 0 and at most 2160 (90 days)")
    groups = _monitor(state).get_failure_groups(hours)
    return {"groups": groups, "hours": hours, "total": sum(g["count"] for g in groups)}


def failure_group(state: ApiState, hours: float, job_type: str, signature_id: str) -> dict[str, Any]:
    """The one group of ``job_type`` whose signature id is ``signature_id`` (NotFound when gone)."""
    for group in _monitor(state).get_failure_groups(hours, job_type=job_type, signature=signature_id):
        if group["signature_id"] == signature_id:
            return group
    raise NotFound(f"no {job_type} failures with signature {signature_id} in the last {hours:g} h (retried already?)")


# -- report, datasets ---------------------------------------------------------------------------
REPORT_DAYS = (1, 7, 30)
#: A report is reused this long: over a month of a million jobs it takes seconds to compute,
#: and its per-day figures hardly move in a minute.
REPORT_CACHE_SECONDS = 60.0


def report(state: ApiState, days: int) -> dict[str, Any]:
    """The performance report over 1, 7 or 30 days (computed at most once a minute)."""
    if days not in REPORT_DAYS:
        raise InvalidInput(f"days must be one of {', '.join(map(str, REPORT_DAYS))}")
    found = _reused(state, ("report", days), REPORT_CACHE_SECONDS, lambda: _monitor(state).get_performance_report(days))
    return {"report": found, "days": days, "choices": REPORT_DAYS}


def datasets(state: ApiState, status: str, after: str) -> dict[str, Any]:
    """Dataset counts by status and one page of datasets (ordered by uuid, ``after`` a cursor)."""
    counts = dict(sorted(state.store.ledger.count_datasets_by_status().items(), key=lambda kv: (-kv[1], str(kv[0]))))
    rows = state.store.ledger.find_datasets_page([status] if status else None, after or None, PAGE_SIZE + 1)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return {
        "counts": counts, "rows": rows, "status": status, "next": rows[-1]["uuid"] if more else None,
        "total": sum(counts.values()),
    }


def dataset_detail(state: ApiState, uuid: str) -> dict[str, Any]:
    """A dataset with its newest jobs and the transitions they caused, newest first."""
    dataset = state.store.get_dataset(uuid)
    if dataset is None:
        raise NotFound(f"dataset {uuid} not found")
    query = JobQuery(dataset_uuid=uuid)
    jobs = state.store.find_jobs(query, limit=DATASET_JOBS)
    transitions = [e for j in jobs for e in state.store.find_events(j["job_id"]) if e.get("entity") == "dataset"]
    transitions.sort(key=lambda e: e.get("at") or datetime.min.replace(tzinfo=utcnow().tzinfo), reverse=True)
    return {"dataset": dataset, "jobs": jobs, "job_total": state.store.count_jobs(query), "transitions": transitions}
