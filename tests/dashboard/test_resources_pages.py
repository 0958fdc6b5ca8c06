"""The dashboard shows what attempts used: the job page's table and the report's per-type figures."""

from __future__ import annotations

import html

from tests.conftest import add_dataset

from .conftest import Dash

MB = 1 << 20


def test_the_job_page_and_the_report_show_resources(operator: Dash) -> None:
    job_id = operator.queue.create_job(add_dataset(operator.store), "data_validation")
    plain = html.unescape(operator.client.get(f"/jobs/{job_id}").text)
    assert 'id="h-resources"' not in plain  # nothing measured yet: no empty table
    claimed = operator.queue.claim_next("host-a:42", host="host-a", pid=42)
    assert claimed is not None
    entry = {"attempt": 1, "worker": "host-a:42", "cpu_seconds": 1.234, "peak_rss_bytes": 300 * MB,
             "read_bytes": 5 * MB, "write_bytes": 2048, "memory_limit_bytes": 512 * MB}
    operator.queue.complete(job_id, claimed["lease_token"], {"ok": True}, resources=entry)
    page = html.unescape(operator.client.get(f"/jobs/{job_id}").text)
    row = page[page.index('id="h-resources"'):]
    for text in ("1.23 s", "300 MB", "5.0 MB", "2.0 kB", "512 MB", "host-a:42"):
        assert text in row, text
    report = html.unescape(operator.client.get("/report?days=7").text)
    figures = report[report.index('id="report-resources"'):]
    assert "data_validation" in figures and figures.count("300 MB") == 2
