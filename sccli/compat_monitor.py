"""``SC_JobMonitor`` as the spec's snippets use it: :class:`sccli.monitor.JobMonitor` with the
answers those snippets expect (an unknown job said clearly, figures readable on an empty store,
a cleanup result that prints as its count)."""

from __future__ import annotations

from typing import Any

from sccli import domain
from sccli.errors import NotFound
from sccli.monitor import JobMonitor


class DurationsByType(dict):
    """Average durations by job type; a known type without finished jobs reads as 0.0 s (so
    ``metrics['avg_duration_by_type']['dataset_conversion']`` works on an empty store), while
    iteration and JSON list only the types that have figures."""

    def __missing__(self, key: str) -> float:
        if str(getattr(key, "value", key)) in domain.JOB_TYPE_CONFIGS:
            return 0.0
        raise KeyError(key)


class CleanupResult(dict):
    """The contract's cleanup counts; printed, it is the number of jobs deleted."""

    @property
    def total(self) -> int:
        return sum(
            int(self.get(k) or 0) for k in ("completed_jobs_deleted", "failed_jobs_deleted", "cancelled_jobs_deleted")
        )

    def __str__(self) -> str:
        return str(self.total)

    def __format__(self, spec: str) -> str:
        return format(self.total, spec)


class SC_JobMonitor(JobMonitor):  # noqa: N801 - the original's name
    """The original SC_JobMonitor: ``SC_JobMonitor(MongoClient(url), "scientistcloud")``."""

    def get_job_details(self, job_id: str) -> dict[str, Any]:
        """The job with its events, dataset and times; raises NotFound (a LookupError) naming
        the id when there is no such job."""
        details = super().get_job_details(job_id)
        if details is None:
            raise NotFound(
                f"no job with id {job_id!r} in {self.store.display_url} (job ids are the UUIDs create_job returns)"
            )
        return details

    def get_performance_metrics(self, hours: int = 24) -> dict[str, Any]:
        metrics = super().get_performance_metrics(hours)
        metrics["avg_duration_by_type"] = DurationsByType(metrics["avg_duration_by_type"])
        return metrics

    def cleanup_old_data(self, days: int = 30, **kwargs: Any) -> CleanupResult:
        return CleanupResult(super().cleanup_old_data(days, **kwargs))
