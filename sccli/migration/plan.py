"""What the migration does with one legacy dataset: the contract's status table, the job's
parameters from the dataset and data directories, and the problems worth telling an admin.

No store access here: :mod:`sccli.migration.run` feeds datasets in pages and writes the jobs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sccli.domain import DatasetStatus, JobType, is_valid_uuid
from sccli.settings import Settings

#: dataset status → (job type, priority): the contract's "Legacy migration" table.
MIGRATION_TABLE: dict[str, tuple[str, int]] = {
    DatasetStatus.SYNC_QUEUED.value: (JobType.GOOGLE_SYNC.value, 2),
    DatasetStatus.SYNCING.value: (JobType.GOOGLE_SYNC.value, 1),
    DatasetStatus.CONVERSION_QUEUED.value: (JobType.DATASET_CONVERSION.value, 1),
    DatasetStatus.CONVERTING.value: (JobType.DATASET_CONVERSION.value, 1),
    DatasetStatus.UPLOAD_QUEUED.value: (JobType.FILE_UPLOAD.value, 2),
    DatasetStatus.UPLOADING.value: (JobType.FILE_UPLOAD.value, 1),
    DatasetStatus.UNZIPPING.value: (JobType.FILE_EXTRACTION.value, 1),
    DatasetStatus.ZIPPING.value: (JobType.DATA_COMPRESSION.value, 3),
}

#: Statuses the old service was working on: their jobs wait for the grace period.
IN_FLIGHT_STATUSES = frozenset(
    {DatasetStatus.SYNCING.value, DatasetStatus.CONVERTING.value, DatasetStatus.UPLOADING.value}
)

#: Job types that move a dataset's status; at most one of them should be active per dataset.
STAGE_TYPES = frozenset(job_type for job_type, _ in MIGRATION_TABLE.values())

#: Dataset fields copied into job parameters (dataset field → parameter name).
PARAMETER_MAP = {
    "user": "user_email",
    "google_drive_link": "data_url",
    "sensor": "sensor_type",
    "conversion_parameters": "conversion_params",
    "files": "files",
}

ARCHIVE_SUFFIXES = (
    ".zip", ".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst", ".7z", ".gz", ".bz2", ".xz",
)

# Actions of a plan item.
CREATE = "create"
SKIP = "skip"
ALREADY_ACTIVE = "already has an active"
#: Start of the reason of a dataset skipped because its job could not succeed.
BLOCKED = "not migrated, its job could not succeed"


@dataclass
class PlanItem:
    """One dataset in a migration plan and what the run did (or would do) with it."""

    dataset_uuid: str
    status: str
    action: str
    job_type: str | None = None
    priority: int | None = None
    delayed: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    reason: str | None = None
    job_id: str | None = None

    @property
    def needs_attention(self) -> bool:
        """Problems, or skipped for another reason than already having its job."""
        return bool(self.problems) or (self.action == SKIP and not (self.reason or "").startswith(ALREADY_ACTIVE))

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def job_parameters(dataset: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The job's parameters: mapped dataset fields plus ``input_path`` and ``output_path``."""
    uuid = dataset["uuid"]
    params: dict[str, Any] = {
        "input_path": os.path.join(settings.in_data_dir, uuid),
        "output_path": os.path.join(settings.out_data_dir, uuid),
    }
    for source, target in PARAMETER_MAP.items():
        value = dataset.get(source)
        if value not in (None, ""):
            params[target] = value
    return params


class ProblemFinder:
    """Checks a planned job against the file system (quiet when the data directories are not
    mounted on this host: one global note instead of a problem per dataset) and, through
    :attr:`parameters`, against its type's parameter declaration."""

    def __init__(self, settings: Settings) -> None:
        from sccli.migration.params import Listings, ParameterCheck

        self.in_dir = Path(settings.in_data_dir)
        self.mounted = self.in_dir.is_dir()
        self.listings = Listings([str(d) for d in settings.data_dirs])
        self.parameters = ParameterCheck(settings, self.listings)

    def notes(self) -> list[str]:
        """Problems about the run as a whole."""
        if self.mounted:
            return []
        return [
            f"in_data_dir {self.in_dir} is not a directory on this host: input directories and "
            "archives were not checked"
        ]

    def problems(self, job_type: str, params: dict[str, Any]) -> list[str]:
        """What will make this job fail, in words (empty when nothing is known to be wrong).

        What the dataset itself lacks (a link, a file list) is checked everywhere; the file
        system only where the data directories are mounted."""
        if job_type == "google_sync":
            return [] if "data_url" in params else ["no google_drive_link to sync from"]
        if job_type == "file_upload":
            return [] if params.get("files") else ["no files to upload (the dataset names none in its 'files' field)"]
        if not self.mounted:
            return []
        input_dir = params["input_path"]
        if not self.listings.is_dir(input_dir):
            return [f"input directory {input_dir} is missing"]
        if job_type == "file_extraction" and not _has_archive(input_dir):
            return [f"no archive to unzip in {input_dir}"]
        return []


def _has_archive(directory: str) -> bool:
    try:
        with os.scandir(directory) as entries:
            return any(e.is_file() and e.name.lower().endswith(ARCHIVE_SUFFIXES) for e in entries)
    except OSError:
        return False


def blocking_problems(
    dataset: dict[str, Any], settings: Settings, finder: ProblemFinder
) -> tuple[dict[str, Any], list[str]]:
    """The job parameters of a dataset with a migrated status, and what keeps its job from
    succeeding (empty: the job can be created). Shared by the plan and by validation."""
    status, uuid = str(dataset.get("status")), dataset["uuid"]
    job_type = MIGRATION_TABLE[status][0]
    if not is_valid_uuid(uuid):
        return {}, ["malformed uuid (expected 8-4-4-4-12 hex): fix the dataset first"]
    params = job_parameters(dataset, settings)
    unusable = _not_json(params)
    if unusable:
        return params, [f"dataset field for parameter {unusable!r} is not JSON (fix the dataset first)"]
    return params, finder.problems(job_type, params) or finder.parameters.problems(job_type, params)


def plan_dataset(
    dataset: dict[str, Any], active_types: list[str], settings: Settings, finder: ProblemFinder
) -> PlanItem:
    """Decide what to do with one dataset given the stage jobs already active for it.

    A dataset whose job would fail on every attempt (see :func:`blocking_problems`) is planned
    as a skip with its problems: listed, never given a job.
    """
    status = str(dataset.get("status"))
    uuid = dataset["uuid"]
    if status not in MIGRATION_TABLE:
        why = "is not migrated (the contract maps no job to it)" if status == DatasetStatus.RETRYING else "needs no job"
        return PlanItem(uuid, status, SKIP, reason=f"status {status!r} {why}")
    job_type, priority = MIGRATION_TABLE[status]
    if active_types and is_valid_uuid(uuid):
        return PlanItem(uuid, status, SKIP, job_type, priority, reason=_active_reason(job_type, active_types))
    params, problems = blocking_problems(dataset, settings, finder)
    item = PlanItem(uuid, status, CREATE, job_type, priority, status in IN_FLIGHT_STATUSES, params, problems)
    if problems:
        item.action, item.reason = SKIP, f"{BLOCKED}: {problems[0]}"
    return item


def _not_json(params: dict[str, Any]) -> str | None:
    """The first parameter the queue would refuse as not JSON-serialisable (legacy documents
    can hold dates or ObjectIds), or None."""
    for key, value in params.items():
        if isinstance(value, str):
            continue
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            return key
    return None


def _active_reason(job_type: str, active_types: list[str]) -> str:
    if job_type in active_types:
        return f"{ALREADY_ACTIVE} {job_type} job"
    return (
        f"has an active {', '.join(sorted(set(active_types)))} job that does not match its status "
        "(see sc migrate validate)"
    )
