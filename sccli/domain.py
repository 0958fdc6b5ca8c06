"""Pure domain rules: job types, statuses, transitions and configuration tables.

This module is a leaf: it performs no I/O and imports nothing from sccli. Everything else
(queue, service, monitor, migration, CLI) takes its vocabulary from here.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any


class JobType(str, Enum):
    """The eight built-in job types (plugins may add more by name)."""

    GOOGLE_SYNC = "google_sync"
    DATASET_CONVERSION = "dataset_conversion"
    FILE_UPLOAD = "file_upload"
    FILE_EXTRACTION = "file_extraction"
    DATA_COMPRESSION = "data_compression"
    RSYNC_TRANSFER = "rsync_transfer"
    BACKUP_CREATION = "backup_creation"
    DATA_VALIDATION = "data_validation"


class JobStatus(str, Enum):
    """Life-cycle states of a job."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SCHEDULED = "scheduled"  # may not start before its run_after: the sweeper makes it pending


class DatasetStatus(str, Enum):
    """The 17 dataset status strings of the portal (spaces included)."""

    SUBMITTED = "submitted"
    SYNC_QUEUED = "sync queued"
    SYNCING = "syncing"
    CONVERSION_QUEUED = "conversion queued"
    CONVERTING = "converting"
    UPLOAD_QUEUED = "upload queued"
    UPLOADING = "uploading"
    UNZIPPING = "unzipping"
    ZIPPING = "zipping"
    DONE = "done"
    SYNC_ERROR = "sync error"
    CONVERSION_ERROR = "conversion error"
    UPLOAD_ERROR = "upload error"
    UNZIP_ERROR = "unzip error"
    COMPRESSION_ERROR = "compression error"
    FAILED = "failed"
    RETRYING = "retrying"


ACTIVE_STATUSES: tuple[JobStatus, ...] = (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.SCHEDULED)
#: Not running yet: what a cancel ends at once and a purge removes.
WAITING_STATUSES: tuple[JobStatus, ...] = (JobStatus.PENDING, JobStatus.SCHEDULED)
TERMINAL_STATUSES: tuple[JobStatus, ...] = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)
JOB_STATUS_VALUES: tuple[str, ...] = tuple(s.value for s in JobStatus)
DATASET_STATUS_VALUES: tuple[str, ...] = tuple(s.value for s in DatasetStatus)


class ErrorKind(str, Enum):
    """Why an attempt failed: decides whether it is retried."""

    ERROR = "error"  # a tool, the network, the store, an unexpected exception: may pass
    PERMANENT = "permanent"  # a refusal that fails the same way again: never retried
    TIMEOUT = "timeout"  # the attempt ran past its time limit
    STALE = "stale"  # its service stopped heartbeating (dead worker)
    TOO_LARGE = "too_large"  # its result could not be stored: running it again changes nothing
    # Its process tree went over the type's memory limit: the same input needs the same memory,
    # so it is not retried; an explicit retry after the limit was raised runs it again.
    MEMORY = "memory"

    @property
    def retryable(self) -> bool:
        return self not in (ErrorKind.PERMANENT, ErrorKind.TOO_LARGE, ErrorKind.MEMORY)


class ServiceState(str, Enum):
    """A service's state in its ``workers`` document (``dead`` is inferred by readers)."""

    RUNNING = "running"
    DRAINING = "draining"
    STOPPED = "stopped"
    DEAD = "dead"


@dataclass(frozen=True)
class JobTypeConfig:
    """Defaults and facts of one job type (the original's SC_JOB_TYPE_CONFIGS row)."""

    description: str
    timeout_minutes: int
    max_attempts: int
    requires_internet: bool
    priority: int
    estimated_duration: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


JOB_TYPE_CONFIGS: dict[str, JobTypeConfig] = {
    "google_sync": JobTypeConfig("Synchronize data from Google Drive", 60, 3, True, 2, "5-30 minutes"),
    "dataset_conversion": JobTypeConfig("Convert dataset to streamable format", 120, 2, False, 1, "10-60 minutes"),
    "file_upload": JobTypeConfig("Upload files to storage", 30, 5, True, 2, "2-15 minutes"),
    "file_extraction": JobTypeConfig("Extract files from archive", 15, 3, False, 1, "1-5 minutes"),
    "data_compression": JobTypeConfig("Compress data for storage", 45, 2, False, 3, "5-20 minutes"),
    "rsync_transfer": JobTypeConfig("Transfer data via rsync", 90, 3, False, 2, "10-45 minutes"),
    "backup_creation": JobTypeConfig("Create data backup", 60, 2, False, 3, "5-30 minutes"),
    "data_validation": JobTypeConfig("Validate dataset integrity", 30, 2, False, 2, "2-10 minutes"),
}

#: Fallback for plugin job types that are not in the table.
PLUGIN_JOB_DEFAULTS = JobTypeConfig("Plugin job type", 60, 3, False, 2, "unknown")

_J = JobStatus
JOB_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    _J.PENDING: frozenset({_J.RUNNING, _J.CANCELLED}),
    _J.SCHEDULED: frozenset({_J.PENDING, _J.CANCELLED}),
    _J.RUNNING: frozenset({_J.COMPLETED, _J.FAILED, _J.CANCELLED, _J.PENDING, _J.SCHEDULED}),
    # An explicit retry, at once (pending) or later (``sc job retry --in``: scheduled).
    _J.FAILED: frozenset({_J.PENDING, _J.SCHEDULED}),
    _J.CANCELLED: frozenset({_J.PENDING, _J.SCHEDULED}),
    _J.COMPLETED: frozenset(),
}

_D = DatasetStatus
DATASET_TRANSITIONS: dict[DatasetStatus, frozenset[DatasetStatus]] = {
    source: frozenset(targets)
    for source, targets in {
        _D.SUBMITTED: {_D.SYNC_QUEUED, _D.CONVERSION_QUEUED, _D.UPLOAD_QUEUED, _D.UNZIPPING},
        _D.SYNC_QUEUED: {_D.SYNCING, _D.SYNC_ERROR},
        _D.SYNCING: {_D.CONVERSION_QUEUED, _D.SYNC_ERROR},
        _D.CONVERSION_QUEUED: {_D.CONVERTING, _D.CONVERSION_ERROR},
        _D.CONVERTING: {_D.DONE, _D.CONVERSION_ERROR},
        _D.UPLOAD_QUEUED: {_D.UPLOADING, _D.UPLOAD_ERROR},
        _D.UPLOADING: {_D.DONE, _D.UNZIPPING, _D.CONVERSION_QUEUED, _D.UPLOAD_ERROR},
        _D.UNZIPPING: {_D.CONVERSION_QUEUED, _D.UNZIP_ERROR},
        _D.ZIPPING: {_D.DONE, _D.COMPRESSION_ERROR},
        _D.SYNC_ERROR: {_D.SYNC_QUEUED, _D.FAILED},
        _D.CONVERSION_ERROR: {_D.CONVERSION_QUEUED, _D.FAILED},
        _D.UPLOAD_ERROR: {_D.UPLOAD_QUEUED, _D.FAILED},
        _D.UNZIP_ERROR: {_D.UNZIPPING, _D.FAILED},
        _D.COMPRESSION_ERROR: {_D.ZIPPING, _D.FAILED},
        _D.RETRYING: {_D.SYNC_QUEUED, _D.CONVERSION_QUEUED, _D.UPLOAD_QUEUED},
        _D.DONE: {_D.ZIPPING},
        _D.FAILED: set(),
    }.items()
}


@dataclass(frozen=True)
class DatasetStages:
    """How a job type moves its dataset: queued on create, working on claim, error on failure."""

    queued: DatasetStatus | None
    working: DatasetStatus
    error: DatasetStatus

    @property
    def ready(self) -> DatasetStatus:
        """Where a dataset waits for this job type to run: its queued status, else its working one."""
        return self.queued or self.working


DATASET_STAGES: dict[str, DatasetStages] = {
    "google_sync": DatasetStages(_D.SYNC_QUEUED, _D.SYNCING, _D.SYNC_ERROR),
    "dataset_conversion": DatasetStages(_D.CONVERSION_QUEUED, _D.CONVERTING, _D.CONVERSION_ERROR),
    "file_upload": DatasetStages(_D.UPLOAD_QUEUED, _D.UPLOADING, _D.UPLOAD_ERROR),
    "file_extraction": DatasetStages(None, _D.UNZIPPING, _D.UNZIP_ERROR),
    "data_compression": DatasetStages(None, _D.ZIPPING, _D.COMPRESSION_ERROR),
}

PRIORITY_NAMES = {"high": 1, "normal": 2, "low": 3}

# \Z, not $: "$" also matches before a trailing newline, and "<uuid>\n" is no UUID.
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")


def job_type_config(job_type: str) -> JobTypeConfig:
    """The config row of a job type; plugin types get PLUGIN_JOB_DEFAULTS."""
    return JOB_TYPE_CONFIGS.get(job_type, PLUGIN_JOB_DEFAULTS)


def job_timeout_seconds(job: dict[str, Any]) -> float:
    """A job's time limit (seconds): ``timeout_minutes``, or the tighter ``parameters.timeout_seconds``."""
    limit = float(job.get("timeout_minutes") or job_type_config(job.get("job_type", "")).timeout_minutes) * 60.0
    override = (job.get("parameters") or {}).get("timeout_seconds")
    if isinstance(override, (int, float)) and not isinstance(override, bool) and override > 0:
        limit = min(limit, float(override))
    return limit


def is_builtin_type(job_type: str) -> bool:
    return job_type in JOB_TYPE_CONFIGS


def is_valid_uuid(value: str) -> bool:
    """True for the canonical 8-4-4-4-12 hex form."""
    if not isinstance(value, str) or not _UUID_RE.match(value):
        return False
    uuid.UUID(value)
    return True


def parse_priority(value: object) -> int:
    """Accept 1-3 or high/normal/low; raise ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"priority must be 1-3 or high/normal/low, got {value!r}")
    if isinstance(value, str):
        text = value.strip().lower()
        if text in PRIORITY_NAMES:
            return PRIORITY_NAMES[text]
        if not text.isdigit():
            raise ValueError(f"priority must be 1-3 or high/normal/low, got {value!r}")
        value = int(text)
    if not isinstance(value, int) or value not in (1, 2, 3):
        raise ValueError(f"priority must be 1-3 or high/normal/low, got {value!r}")
    return value


def active_key(dataset_uuid: str, job_type: str) -> str:
    """The de-duplication key held while a job is active (scheduled, pending or running)."""
    return f"{dataset_uuid}:{job_type}"


def job_transition_allowed(current: str | None, target: str) -> bool:
    """Whether the job table allows ``current → target`` (None: a job being created, to pending or scheduled)."""
    if current is None:
        return target in (JobStatus.PENDING, JobStatus.SCHEDULED)
    try:
        return JobStatus(target) in JOB_TRANSITIONS.get(JobStatus(current), frozenset())
    except ValueError:
        return False


def dataset_transition_allowed(current: str | None, target: str) -> bool:
    """Whether the dataset table allows ``current → target``."""
    try:
        return current is not None and DatasetStatus(target) in DATASET_TRANSITIONS.get(
            DatasetStatus(current), frozenset()
        )
    except ValueError:
        return False


def dataset_path(current: str | None, targets: list[DatasetStatus]) -> tuple[list[DatasetStatus], DatasetStatus | None]:
    """Walk ``targets`` from ``current`` by the table: the steps allowed (a target equal to the
    status already reached is skipped) and the first target refused, if any."""
    steps: list[DatasetStatus] = []
    at = current
    for target in targets:
        if at == target:
            continue
        if not dataset_transition_allowed(at, target):
            return steps, target
        steps.append(target)
        at = target
    return steps, None


def heal_allowed(current: str | None, stages: DatasetStages) -> bool:
    """The contract's healing rule: an administrator's retry of a job takes its dataset from
    ``failed`` or the type's error status back to the type's ready status (outside the table)."""
    return current in (DatasetStatus.FAILED, stages.error)


def retry_delay_seconds(attempts: int, base: float, maximum: float, jitter: float = 0.0) -> float:
    """Backoff after a failed attempt: min(max, base * 2^(attempts-1)), scaled by 1+jitter.

    ``jitter`` is a number in [-0.5, 0.5] supplied by the caller, so this stays deterministic.
    """
    raw = min(maximum, base * (2 ** max(0, attempts - 1)))
    return max(0.0, raw * (1.0 + jitter))


def is_live_service(worker: dict[str, Any], now: datetime, stale_after_seconds: float) -> bool:
    """A service's heartbeat document is live when it has not stopped and beat within
    ``stale_after_seconds`` (the one rule explain, monitor and ``sc service`` share)."""
    beat = worker.get("heartbeat_at")
    return (
        worker.get("status") != ServiceState.STOPPED
        and beat is not None
        and (now - beat).total_seconds() <= stale_after_seconds
    )


def next_stage(
    job_type: str, result: dict[str, Any] | None, dataset: dict[str, Any] | None
) -> tuple[DatasetStatus | None, str | None]:
    """What follows a successful job: (dataset status, job type to chain), either may be None."""
    result = result or {}
    if job_type in (JobType.GOOGLE_SYNC, JobType.FILE_EXTRACTION):
        return DatasetStatus.CONVERSION_QUEUED, JobType.DATASET_CONVERSION.value
    if job_type == JobType.FILE_UPLOAD:
        if result.get("archives"):
            return DatasetStatus.UNZIPPING, JobType.FILE_EXTRACTION.value
        if (dataset or {}).get("convert"):
            return DatasetStatus.CONVERSION_QUEUED, JobType.DATASET_CONVERSION.value
        return DatasetStatus.DONE, None
    if job_type in (JobType.DATASET_CONVERSION, JobType.DATA_COMPRESSION):
        return DatasetStatus.DONE, None
    return None, None


#: What a chained job inherits from its dataset when its parent's parameters lack it.
DATASET_INHERITED_PARAMETERS = {
    "sensor": "sensor_type", "conversion_parameters": "conversion_params", "user": "user_email",
}
