"""Names of the original SC_* modules, so the snippets of SC_JobProcessing.md keep working.

``from sccli.compat import SC_JobQueueManager`` replaces ``from SC_JobQueueManager import
SC_JobQueueManager``; the classes follow the contract's corrected rules.
"""

from __future__ import annotations

from typing import Any

from sccli.domain import JOB_TYPE_CONFIGS, DatasetStatus, JobStatus, JobType
from sccli.queue import JobQueue

SC_JobQueueManager = JobQueue
SC_JobType = JobType
SC_JobStatus = JobStatus
SC_DatasetStatus = DatasetStatus
SC_JOB_TYPE_CONFIGS = {JobType(k): v.as_dict() for k, v in JOB_TYPE_CONFIGS.items()}

__all__ = ["SC_DatasetStatus", "SC_JOB_TYPE_CONFIGS", "SC_JobQueueManager", "SC_JobStatus", "SC_JobType"]  # + lazy SC_JobMonitor, SC_JobMigration


def __getattr__(name: str) -> Any:
    # Monitor and migration load only when asked for, keeping this module light.
    if name == "SC_JobMonitor":
        from sccli.monitor import JobMonitor

        return JobMonitor
    if name == "SC_JobMigration":
        from sccli.migration import JobMigration

        return JobMigration
    raise AttributeError(name)
