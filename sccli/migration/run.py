"""``sc migrate run``: give every legacy dataset that needs work, and has no active job, its job.

Datasets are read in pages ordered by uuid; each page costs one query for its active jobs and
(live) one batched write of jobs, ledger entries and creation events. Nothing is read or
written per dataset, so 100,000 datasets take seconds, not hours.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sccli.clock import utcnow
from sccli.domain import JobStatus, is_valid_uuid
from sccli.errors import InvalidInput, NotFound
from sccli.events import job_event
from sccli.migration.plan import CREATE, MIGRATION_TABLE, SKIP, STAGE_TYPES, PlanItem, ProblemFinder, plan_dataset
from sccli.queue import JobQueue
from sccli.settings import Settings
from sccli.store.base import Store

#: ``progress(done, total)`` is called after each page.
Progress = Callable[[int, int], None]

#: Datasets per page (one read, one batched write). Larger batches write each touched index page
#: once per transaction instead of once per thousand jobs: a third less commit cost on SQLite,
#: for a write lock held about half a second at a time.
DEFAULT_BATCH_SIZE = 5000
#: Default wait before a job of a dataset the old service was working on may run (seconds).
DEFAULT_GRACE_SECONDS = 3600.0


def new_migration_id(now: datetime | None = None) -> str:
    """``mig-YYYYmmddTHHMMSS-xxxxxx``: sortable by time, unique across hosts."""
    stamp = (now or utcnow()).strftime("%Y%m%dT%H%M%S")
    return f"mig-{stamp}-{secrets.token_hex(3)}"


@dataclass
class MigrationReport:
    """What a run did (or, dry, would do)."""

    migration_id: str
    dry_run: bool
    grace_seconds: float
    dataset_uuid: str | None = None
    started_at: datetime = field(default_factory=utcnow)
    finished_at: datetime | None = None
    examined: int = 0
    created: int = 0
    by_job_type: Counter[str] = field(default_factory=Counter)
    delayed: int = 0
    with_problems: int = 0
    skipped: int = 0
    conflicts: list[str] = field(default_factory=list)
    not_migrated: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    items: list[PlanItem] = field(default_factory=list)
    #: False keeps only the items that need attention (problems, unusual skips): large live runs.
    detail: bool = True

    def add(self, item: PlanItem) -> None:
        self.examined += 1
        if self.detail or item.needs_attention:
            self.items.append(item)
        self.with_problems += int(bool(item.problems))
        if item.action != CREATE:
            self.skipped += 1
            return
        self.created += 1
        self.by_job_type[item.job_type or ""] += 1
        self.delayed += int(item.delayed)

    def summary(self) -> dict[str, Any]:
        """Counts only (what the ledger header keeps)."""
        return {
            "examined": self.examined, "jobs_created" if not self.dry_run else "jobs_planned": self.created,
            "by_job_type": dict(self.by_job_type), "delayed": self.delayed, "with_problems": self.with_problems,
            "skipped": self.skipped, "conflicts": len(self.conflicts), "not_migrated": self.not_migrated,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "migration_id": self.migration_id, "dry_run": self.dry_run, "grace_seconds": self.grace_seconds,
            "dataset_uuid": self.dataset_uuid, "started_at": self.started_at, "finished_at": self.finished_at,
            **self.summary(), "conflict_datasets": self.conflicts, "notes": self.notes,
            "items": [item.as_dict() for item in self.items],
        }


def active_stage_types(store: Store, uuids: list[str]) -> dict[str, list[str]]:
    """dataset uuid → types of its pending/running jobs that move dataset statuses (one query)."""
    out: dict[str, list[str]] = {}
    if not uuids:
        return out
    for job in store.ledger.find_active_jobs(uuids):
        if job["job_type"] in STAGE_TYPES:
            out.setdefault(job["dataset_uuid"], []).append(job["job_type"])
    return out


def dataset_pages(
    store: Store, statuses: list[str] | None, batch_size: int, *, slim: bool = False
) -> Iterator[list[dict[str, Any]]]:
    """Every dataset of ``statuses`` in pages ordered by uuid (keyset paging: no OFFSET);
    ``slim``: only ``{uuid, status}`` of each."""
    after: str | None = None
    while True:
        page = store.ledger.find_datasets_page(statuses, after, batch_size, slim=slim)
        if not page:
            return
        yield page
        after = page[-1]["uuid"]


class MigrationRun:
    """One run of the migration over a store (use :class:`sccli.migration.JobMigration`)."""

    def __init__(self, queue: JobQueue, settings: Settings, *, grace_seconds: float, batch_size: int) -> None:
        if grace_seconds < 0:
            raise InvalidInput(f"grace period must not be negative, got {grace_seconds}")
        if batch_size < 1:
            raise InvalidInput(f"batch size must be at least 1, got {batch_size}")
        self.queue = queue
        self.store = queue.store
        self.settings = settings
        self.grace_seconds = grace_seconds
        self.batch_size = batch_size
        self.finder = ProblemFinder(settings)

    def execute(
        self, *, dry_run: bool, dataset_uuid: str | None = None, progress: Progress | None = None, detail: bool = True
    ) -> MigrationReport:
        """Plan (and unless ``dry_run``, write) the jobs; record the run in the ledger."""
        report = MigrationReport(new_migration_id(), dry_run, self.grace_seconds, dataset_uuid, detail=detail)
        report.notes.extend(self.finder.notes())
        pages, total = self._pages(report, dataset_uuid)
        if not dry_run:
            self.store.ledger.insert_migration(self._header(report, "running"))
        try:
            for page in pages:
                self._page(report, page)
                if progress is not None:
                    progress(report.examined, total)
        except BaseException as exc:
            if not dry_run:
                failed = {"status": "failed", "error": str(exc) or type(exc).__name__, **report.summary()}
                self.store.ledger.update_migration(report.migration_id, failed)
            raise
        report.finished_at = utcnow()
        if not dry_run:
            completed = {"status": "completed", "finished_at": report.finished_at, **report.summary()}
            self.store.ledger.update_migration(report.migration_id, completed)
        return report

    def _pages(self, report: MigrationReport, dataset_uuid: str | None) -> tuple[Any, int]:
        if dataset_uuid is not None:
            if not is_valid_uuid(dataset_uuid):
                raise InvalidInput(f"malformed dataset UUID {dataset_uuid!r}")
            dataset = self.store.get_dataset(dataset_uuid)
            if dataset is None:
                raise NotFound(f"dataset {dataset_uuid} not found")
            return iter([[dataset]]), 1
        counts = self.store.ledger.count_datasets_by_status()
        report.not_migrated = {status: n for status, n in sorted(counts.items()) if status not in MIGRATION_TABLE}
        total = sum(n for status, n in counts.items() if status in MIGRATION_TABLE)
        return dataset_pages(self.store, list(MIGRATION_TABLE), self.batch_size), total

    def _page(self, report: MigrationReport, page: list[dict[str, Any]]) -> None:
        active = active_stage_types(self.store, [d["uuid"] for d in page if d.get("status") in MIGRATION_TABLE])
        items = [plan_dataset(d, active.get(d["uuid"], []), self.settings, self.finder) for d in page]
        if not report.dry_run:
            self._write(report, items)
        for item in items:
            report.add(item)

    def _write(self, report: MigrationReport, items: list[PlanItem]) -> None:
        jobs, entries, events = [], [], []
        actor = f"migration:{report.migration_id}"
        for item in items:
            if item.action != CREATE:
                continue
            try:
                doc = self.queue.build_job(
                    item.dataset_uuid, item.job_type or "", item.parameters, item.priority, None, None,
                    run_after_seconds=self.grace_seconds if item.delayed else 0.0,
                    migration_id=report.migration_id, created_by=actor, declaration_checked=True,
                )
            except InvalidInput as exc:  # e.g. conversion_parameters that are not JSON: skip this dataset only
                item.action, item.reason = SKIP, f"job refused: {exc}"
                continue
            item.job_id = doc["job_id"]
            jobs.append(doc)
            entries.append(_entry(report.migration_id, item, doc["created_at"]))
            reason = f"created by migration from dataset status {item.status!r}"
            events.append(job_event(doc["job_id"], None, JobStatus.PENDING, at=doc["created_at"], actor=actor,
                                    reason=reason))
        if not jobs:
            return
        left_out = set(self.store.ledger.insert_migration_batch(jobs, entries, events))
        for item in items:
            if item.job_id in left_out:
                item.action, item.job_id = SKIP, None
                item.reason = f"an active {item.job_type} job appeared while migrating"
                report.conflicts.append(item.dataset_uuid)

    def _header(self, report: MigrationReport, status: str) -> dict[str, Any]:
        return {
            "migration_id": report.migration_id, "kind": "migration", "status": status, "started_at": report.started_at,
            "finished_at": None, "actor": self.queue.actor, "dataset_uuid": report.dataset_uuid,
            "grace_seconds": report.grace_seconds, "skip_problems": True, "notes": report.notes,
        }


def _entry(migration_id: str, item: PlanItem, at: datetime) -> dict[str, Any]:
    return {
        "entry_id": f"{migration_id}:{item.dataset_uuid}", "kind": "entry", "migration_id": migration_id,
        "dataset_uuid": item.dataset_uuid, "status_before": item.status, "job_id": item.job_id,
        "job_type": item.job_type, "priority": item.priority, "delayed": item.delayed,
        "problems": item.problems, "created_at": at, "rolled_back": False,
    }
