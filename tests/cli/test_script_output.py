"""Output for scripts: listings' --json is an envelope with totals, --format jsonl is one object
per line, CSV is one table per command with numbers as numbers (the report's rates, failures'
counts), and `monitor overview` needs --section for CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from sccli.clock import utcnow
from sccli.queue import JobQueue
from sccli.store import open_store
from tests.conftest import add_dataset
from tests.monitor.history import ago, insert, job


@pytest.fixture
def queue(db_url: str) -> JobQueue:
    store = open_store(db_url)
    store.ensure_schema()
    return JobQueue(store, actor="cli:test@host")


def test_listings_are_envelopes_with_totals(sc: Any, queue: JobQueue) -> None:
    made = [queue.create_job(add_dataset(queue.store), "data_compression") for _ in range(3)]
    page = json.loads(sc("job", "list", "--limit", "2", "--json").stdout)
    assert page["total"] == 3 and page["limit"] == 2 and page["offset"] == 0
    assert [j["job_id"] for j in page["items"]] == made[:0:-1]  # newest first
    datasets = json.loads(sc("dataset", "list", "--json").stdout)
    assert datasets["total"] == 3 and len(datasets["items"]) == 3
    assert set(json.loads(sc("service", "status", "--json").stdout)) == {"items", "total", "limit", "offset"}


def test_jsonl_is_one_whole_record_per_line(sc: Any, queue: JobQueue) -> None:
    made = {queue.create_job(add_dataset(queue.store), "data_compression", {"format": "lz4"}) for _ in range(2)}
    lines = sc("job", "list", "--format", "jsonl").stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert {r["job_id"] for r in records} == made and all(r["parameters"] == {"format": "lz4"} for r in records)
    assert all("lease_token" not in r for r in records)  # the one serializer's public view


def test_overview_csv_is_one_table_chosen_by_section(sc: Any, queue: JobQueue) -> None:
    queue.create_job(add_dataset(queue.store), "data_compression")
    refused = sc("monitor", "overview", "--format", "csv")
    assert refused.exit_code == 2 and "--section" in refused.stderr and refused.stdout == ""
    out = sc("monitor", "overview", "--format", "csv", "--section", "queue")
    rows = list(csv.reader(io.StringIO(out.stdout)))
    assert rows[0] == ["STATUS", "JOBS", "UPDATED 24H"] and all(len(r) == 3 for r in rows)
    assert ["pending", "1", "1"] in rows
    assert sc("monitor", "overview", "--section", "bogus").exit_code == 2


def test_report_csv_has_rates_as_numbers(sc: Any, queue: JobQueue) -> None:
    now = utcnow()
    insert(
        queue.store, *[job("dataset_conversion", completed_at=ago(hours=1, now=now), duration=5.0) for _ in range(4)]
    )
    insert(queue.store, job("dataset_conversion", "failed", completed_at=ago(hours=2, now=now), error="boom"))
    out = sc("monitor", "report", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    rates = {r["TYPE"]: r["SUCCESS"] for r in rows}
    assert rates["dataset_conversion"] == "0.8" and not any("%" in v for v in rates.values())
    text = sc("monitor", "report", "--format", "plain").stdout
    assert "80.0%" in text  # people still read percentages


def test_failures_csv_counts_are_numbers(sc: Any, queue: JobQueue) -> None:
    job_id = queue.create_job(add_dataset(queue.store), "data_compression")
    claimed = queue.claim_next("w1")
    assert claimed is not None
    queue.fail(job_id, claimed["lease_token"], "disk full", retry=False)
    rows = list(csv.DictReader(io.StringIO(sc("monitor", "failed", "--format", "csv").stdout)))
    assert [(r["COUNT"], r["HAD TRIES LEFT"]) for r in rows] == [("1", "1")]
