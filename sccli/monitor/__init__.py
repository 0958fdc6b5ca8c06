"""Monitoring for on-call: overview, health, stale jobs, failures, reports, metrics, cleanup."""

from __future__ import annotations

from sccli.monitor.job_monitor import JobMonitor

__all__ = ["JobMonitor"]
