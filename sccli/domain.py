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


ACTIVE_STATUSES = (JobStatus.PENDING.value, JobStatus.RUNNING.value)
TERMINAL_STATUSES = (JobStatus.COMPLETED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value)


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

JOB_TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"running", "cancelled"}),
    "running": frozenset({"completed", "failed", "cancelled", "pending"}),
    "failed": frozenset({"pending"}),
    "cancelled": frozenset({"pending"}),
    "completed": frozenset(),
}

_D = DatasetStatus
DATASET_TRANSITIONS: dict[str, frozenset[str]] = {
    s.value: frozenset(t.value for t in targets)
    for s, targets in {
        _D.SUBMITTED: {_D.SYNC_QUEUED, _D.CONVERSION_QUEUED, _D.UPLOAD_QUEUED},
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
        _D.DONE: set(),
        _D.FAILED: set(),
    }.items()
}


@dataclass(frozen=True)
class DatasetStages:
    """How a job type moves its dataset: queued on create, working on claim, error on failure."""

    queued: str | None
    working: str
    error: str


DATASET_STAGES: dict[str, DatasetStages] = {
    "google_sync": DatasetStages("sync queued", "syncing", "sync error"),
    "dataset_conversion": DatasetStages("conversion queued", "converting", "conversion error"),
    "file_upload": DatasetStages("upload queued", "uploading", "upload error"),
    "file_extraction": DatasetStages(None, "unzipping", "unzip error"),
    "data_compression": DatasetStages(None, "zipping", "compression error"),
}

PRIORITY_NAMES = {"high": 1, "normal": 2, "low": 3}

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def job_type_config(job_type: str) -> JobTypeConfig:
    """The config row of a job type; plugin types get PLUGIN_JOB_DEFAULTS."""
    return JOB_TYPE_CONFIGS.get(job_type, PLUGIN_JOB_DEFAULTS)


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
    """The de-duplication key held while a job is pending or running."""
    return f"{dataset_uuid}:{job_type}"


def job_transition_allowed(current: str, target: str) -> bool:
    return target in JOB_TRANSITIONS.get(current, frozenset())


def dataset_transition_allowed(current: str | None, target: str) -> bool:
    if current is None:
        return False
    return target in DATASET_TRANSITIONS.get(current, frozenset())


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
    return worker.get("status") != "stopped" and beat is not None and (now - beat).total_seconds() <= stale_after_seconds


def next_stage(job_type: str, result: dict[str, Any] | None, dataset: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """What follows a successful job: (dataset status, job type to chain), either may be None."""
    result = result or {}
    if job_type in ("google_sync", "file_extraction"):
        return "conversion queued", "dataset_conversion"
    if job_type == "file_upload":
        if result.get("archives"):
            return "unzipping", "file_extraction"
        if (dataset or {}).get("convert"):
            return "conversion queued", "dataset_conversion"
        return "done", None
    if job_type in ("dataset_conversion", "data_compression"):
        return "done", None
    return None, None
