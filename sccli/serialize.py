"""The one way a job (or any store document) becomes JSON for people and scripts: the CLI's
``--json``, the HTTP API and the dashboard all use :func:`public_job` / :func:`plain`.

Internal fields never leave: the lease token (it fences worker writes), the de-duplication key,
the outbox of pending follow-ups and a dataset's last move id.
"""

from __future__ import annotations

import math
from datetime import datetime
from enum import Enum
from typing import Any

from sccli.clock import iso

#: Fields of a job that stay inside sccli.
HIDDEN_JOB_FIELDS = frozenset({"_id", "lease_token", "active_key", "allow_duplicate", "outbox"})
#: Fields of a dataset that stay inside sccli.
HIDDEN_DATASET_FIELDS = frozenset({"_id", "status_move_id"})


def plain(value: Any) -> Any:
    """A store value as JSON-ready data: datetimes as ISO 8601 Z, non-finite floats as null,
    enums as their value, unknown types (ObjectId, Decimal128, bytes) as text."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items() if k != "_id"}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def public_job(job: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A job document as it is shown outside sccli, plus ``extra`` fields (events, explanation)."""
    out = plain({k: v for k, v in job.items() if k not in HIDDEN_JOB_FIELDS})
    out.update(plain(extra))
    return out


def public_dataset(dataset: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A dataset document as it is shown outside sccli."""
    out = plain({k: v for k, v in dataset.items() if k not in HIDDEN_DATASET_FIELDS})
    out.update(plain(extra))
    return out


def public(value: Any) -> Any:
    """Any output (a job, a list of jobs, a report holding jobs) made JSON-ready, with the
    internal fields of every job (a mapping with ``job_id``) and dataset (with ``uuid``) left out."""
    if isinstance(value, dict):
        hidden = (
            HIDDEN_JOB_FIELDS if "job_id" in value else HIDDEN_DATASET_FIELDS if "uuid" in value else frozenset({"_id"})
        )
        return {str(k): public(v) for k, v in value.items() if k not in hidden}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [public(v) for v in value]
    return plain(value)
