"""``sc migrate validate``: does the queue agree with the datasets?

Checks, each finding naming the dataset and job it is about:

- ``missing_job``: a dataset whose status needs work has no active job of the matching type
  (``sc migrate run`` would create it);
- ``blocked``: such a dataset has no job and the migration will not give it one, because its
  job could not succeed (no ``google_drive_link``, no ``files``, missing input directory, no
  archive, parameters its handler refuses); the finding names the problem;
- ``duplicate_jobs``: a dataset has more than one active job that moves its status;
- ``state_mismatch``: an active job's type or state does not fit its dataset's status;
- ``orphan_job``: a pending or running job points to a dataset that does not exist;
- ``missing_index``: an index the store should have is not there;
- ``index_options``: an index on the right keys whose options (unique, sparse) the store cannot rely on.

``submitted``, ``done``, ``failed``, ``retrying`` and error statuses need no job and are never a
finding by themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sccli.domain import ACTIVE_STATUSES, DATASET_STAGES, JobStatus
from sccli.migration.plan import MIGRATION_TABLE, STAGE_TYPES, ProblemFinder, blocking_problems
from sccli.migration.run import dataset_pages
from sccli.settings import Settings
from sccli.store.base import JobQuery, Store

#: What keeps a dataset's job from succeeding (empty: nothing known), see ``blocking_problems``.
Blockers = Callable[[dict[str, Any]], list[str]]

_ORPHAN_CHUNK = 1000
_NEVER = datetime.min


@dataclass
class Finding:
    """One thing validation found wrong."""

    check: str
    message: str
    dataset_uuid: str | None = None
    job_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def index_findings(store: Store) -> list[Finding]:
    """Expected indexes that the store does not have."""
    findings = []
    for key, names in sorted(store.missing_indexes().items()):
        for name in names:
            hint = "it is created when a store is first opened; if it stays missing, check the account's rights"
            findings.append(Finding("missing_index", f"{key}: index {name} is missing ({hint})"))
    for problem in store.schema_problems():
        findings.append(Finding("index_options", f"{problem.detail} (fix: {problem.fix})"))
    return findings


def dataset_findings(
    dataset: dict[str, Any], jobs: list[dict[str, Any]], blockers: Blockers | None = None
) -> list[Finding]:
    """Findings for one dataset given its active jobs that move dataset statuses; ``blockers``
    tells a ``blocked`` dataset from one with a ``missing_job``."""
    uuid, status = dataset["uuid"], str(dataset.get("status"))
    needed = MIGRATION_TABLE.get(status)
    if needed and not jobs:
        problems = blockers(dataset) if blockers is not None else []
        if problems:
            message = (
                f"dataset {uuid} is {status!r} but the migration gives it no {needed[0]} job: {'; '.join(problems)} "
                "(fix the dataset, then run sc migrate run)"
            )
            return [Finding("blocked", message, uuid)]
        return [
            Finding(
                "missing_job",
                f"dataset {uuid} is {status!r} but has no active job (expected {needed[0]}; run sc migrate run)", uuid,
            )
        ]
    if len(jobs) > 1:
        listed = ", ".join(f"{j['job_type']} {j['job_id']}" for j in jobs)
        return [
            Finding(
                "duplicate_jobs", f"dataset {uuid} has {len(jobs)} active jobs, exactly one expected: {listed}", uuid
            )
        ]
    if not jobs:
        return []
    job = jobs[0]
    problem = _disagreement(status, needed[0] if needed else None, job)
    return (
        [Finding("state_mismatch", f"dataset {uuid} is {status!r} but {problem}", uuid, job["job_id"])]
        if problem
        else []
    )


def _disagreement(status: str, needed_type: str | None, job: dict[str, Any]) -> str | None:
    """Why a dataset status and its one active stage job disagree, or None."""
    job_type, job_status, job_id = job["job_type"], job["status"], job["job_id"]
    stages = DATASET_STAGES[job_type]
    if needed_type is not None and job_type != needed_type:
        return f"its active job {job_id} is {job_type} (expected {needed_type})"
    if job_status in (JobStatus.PENDING, JobStatus.SCHEDULED) and stages.queued is None:
        return None  # extraction and compression have no queued status to wait in
    if status not in (stages.queued, stages.working):
        return f"{job_type} job {job_id} is {job_status}"
    if job_status == JobStatus.RUNNING and status == stages.queued:
        return f"{job_type} job {job_id} is already running"
    return None


class Validation:
    """Runs every check over the store in pages: per page of datasets (uuid and status only),
    one query for their active jobs and one for the documents of those left without a job."""

    def __init__(self, store: Store, *, settings: Settings | None = None, batch_size: int = 1000) -> None:
        self.store = store
        self.settings = settings or Settings()
        self.batch_size = batch_size
        self.finder = ProblemFinder(self.settings)

    def _blockers(self, dataset: dict[str, Any]) -> list[str]:
        return blocking_problems(dataset, self.settings, self.finder)[1]

    def execute(self, progress: Callable[[int, int], None] | None = None) -> list[Finding]:
        findings = index_findings(self.store)
        total = sum(self.store.ledger.count_datasets_by_status().values())
        seen: set[str] = set()
        for page in dataset_pages(self.store, None, self.batch_size, slim=True):
            findings.extend(self._page(page))
            seen.update(d["uuid"] for d in page)
            if progress is not None:
                progress(len(seen), max(total, len(seen)))
        findings.extend(self._orphans(seen))
        return findings

    def _page(self, page: list[dict[str, Any]]) -> list[Finding]:
        uuids = [d["uuid"] for d in page]
        by_dataset: dict[str, list[dict[str, Any]]] = {}
        # Jobs written by others (the portal) may lack created_at: they sort first.
        active = self.store.ledger.find_active_jobs(uuids)
        for job in sorted(active, key=lambda j: (j.get("created_at") is not None, j.get("created_at") or _NEVER)):
            if job["job_type"] in STAGE_TYPES:
                by_dataset.setdefault(job["dataset_uuid"], []).append(job)
        # Only a dataset left without its job needs its whole document (to say what blocks it).
        unserved = [d["uuid"] for d in page if d.get("status") in MIGRATION_TABLE and d["uuid"] not in by_dataset]
        full = {d["uuid"]: d for d in self.store.find_datasets(uuids=unserved)} if unserved else {}
        findings: list[Finding] = []
        for dataset in page:
            findings.extend(
                dataset_findings(
                    full.get(dataset["uuid"], dataset), by_dataset.get(dataset["uuid"], []), self._blockers
                )
            )
        return findings

    def _orphans(self, seen: set[str]) -> list[Finding]:
        counts = self.store.count_jobs_by("dataset_uuid", JobQuery(status=ACTIVE_STATUSES))
        missing = sorted(uuid for uuid in counts if uuid not in seen)
        findings = []
        for start in range(0, len(missing), _ORPHAN_CHUNK):
            query = JobQuery(dataset_uuids=missing[start : start + _ORPHAN_CHUNK], status=ACTIVE_STATUSES)
            for job in self.store.find_jobs(query, sort=(("dataset_uuid", 1), ("created_at", 1))):
                message = (
                    f"{job['status']} {job['job_type']} job {job['job_id']} points to dataset {job['dataset_uuid']}, "
                    "which does not exist"
                )
                findings.append(Finding("orphan_job", message, job["dataset_uuid"], job["job_id"]))
        return findings
