"""The pure side of resources: display rows, per-type percentiles, the memory settings and kind."""

from __future__ import annotations

import pytest

from sccli import usage
from sccli.domain import ErrorKind
from sccli.errors import InvalidInput
from sccli.settings import settings_from_dict

MB = 1 << 20


def test_human_bytes() -> None:
    assert [usage.human_bytes(n) for n in (None, 0, 999, 2048, 5 * MB + MB // 2, 300 * MB, int(1.2 * 1024 * MB))] == [
        "-", "0 B", "999 B", "2.0 kB", "5.5 MB", "300 MB", "1.2 GB"]


def test_attempt_rows_show_what_was_measured_and_dashes_for_the_rest() -> None:
    first = {"attempt": 1, "worker": "w", "cpu_seconds": 0.554, "peak_rss_bytes": 140 * MB, "read_bytes": 12 * MB,
             "write_bytes": 3 * 1024, "memory_limit_bytes": 160 * MB}
    job = {"resources": [first, {"attempt": 2, "peak_rss_bytes": 10}, "junk"]}
    assert usage.attempt_rows(job) == [
        {"attempt": 1, "cpu": "0.55 s", "peak_memory": "140 MB", "read": "12 MB", "written": "3.0 kB",
         "limit": "160 MB", "worker": "w"},
        {"attempt": 2, "cpu": "-", "peak_memory": "10 B", "read": "-", "written": "-", "limit": "-", "worker": None},
    ]
    assert usage.attempt_rows({}) == []


def test_by_type_takes_nearest_rank_percentiles_over_every_attempt() -> None:
    jobs = [{"job_type": "a", "resources": [{"peak_rss_bytes": p * MB, "cpu_seconds": p / 10}]} for p in range(1, 21)]
    jobs.append({"job_type": "a", "resources": [{"peak_rss_bytes": 21 * MB}]})  # no CPU figure: counted for memory only
    jobs.append({"job_type": "b", "resources": []})
    jobs.append({"job_type": "c"})
    figures = usage.by_type(jobs)
    assert set(figures) == {"a"}
    assert figures["a"] == {"attempts": 21, "p50_peak_rss_bytes": 11 * MB, "p95_peak_rss_bytes": 20 * MB,
                            "p50_cpu_seconds": 1.0, "p95_cpu_seconds": 1.9}
    assert usage.nearest_rank([], 50) is None and usage.nearest_rank([3.0], 95) == 3.0


def test_memory_limit_settings() -> None:
    settings = settings_from_dict({"memory_limit_mb": 2048, "memory_limit_mb_by_type": {"dataset_conversion": 1024}})
    assert settings.memory_limit_mb_of("dataset_conversion") == 1024  # MB
    assert settings.memory_limit_mb_of("rsync_transfer") == 2048
    assert settings_from_dict({}).memory_limit_mb_of("dataset_conversion") is None  # off unless set
    for bad in ({"memory_limit_mb": 0}, {"memory_limit_mb_by_type": {"x": "1 GB"}}, {"memory_check_seconds": 0}):
        with pytest.raises(InvalidInput, match="settings: memory_"):
            settings_from_dict(bad)


def test_a_memory_overrun_is_not_retryable() -> None:
    assert ErrorKind("memory") is ErrorKind.MEMORY and not ErrorKind.MEMORY.retryable
