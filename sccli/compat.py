"""Names of the original SC_* modules, so the snippets of SC_JobProcessing.md keep working.

``from sccli.compat import SC_JobQueueManager`` replaces ``from SC_JobQueueManager import
SC_JobQueueManager``; the classes follow the contract's corrected rules.
"""

from __future__ import annotations

from typing import Any

from sccli import domain
from sccli.domain import JOB_TYPE_CONFIGS, DatasetStatus, JobStatus, JobType
from sccli.queue import JobQueue

SC_JobQueueManager = JobQueue
SC_JobType = JobType
SC_JobStatus = JobStatus
SC_DatasetStatus = DatasetStatus


class JobTypeConfigs(dict):
    """``SC_JOB_TYPE_CONFIGS``: adding an entry registers the job type (its defaults become
    the table's), so queues accept it; the service runs it once it has a handler
    (``SC_BackgroundService.job_handlers``, or settings ``handlers``)."""

    def __setitem__(self, key: Any, value: dict[str, Any]) -> None:
        name = str(getattr(key, "value", key))
        base = (
            domain.job_type_config(name).as_dict() if name in JOB_TYPE_CONFIGS else domain.PLUGIN_JOB_DEFAULTS.as_dict()
        )
        known = {k: v for k, v in dict(value).items() if k in base}
        domain.JOB_TYPE_CONFIGS[name] = domain.JobTypeConfig(**{**base, "description": f"{name} job", **known})
        super().__setitem__(key, value)


SC_JOB_TYPE_CONFIGS = JobTypeConfigs({JobType(k): v.as_dict() for k, v in JOB_TYPE_CONFIGS.items()})

# + lazy SC_JobMonitor, SC_JobMigration, SC_BackgroundService
__all__ = ["SC_DatasetStatus", "SC_JOB_TYPE_CONFIGS", "SC_JobQueueManager", "SC_JobStatus", "SC_JobType"]


def __getattr__(name: str) -> Any:
    # Monitor and migration load only when asked for, keeping this module light.
    if name == "SC_JobMonitor":
        from sccli.compat_monitor import SC_JobMonitor

        return SC_JobMonitor
    if name == "SC_BackgroundService":
        from sccli.compat_service import SC_BackgroundService

        return SC_BackgroundService
    if name == "SC_JobMigration":
        from sccli.migration import JobMigration

        return JobMigration
    raise AttributeError(name)
