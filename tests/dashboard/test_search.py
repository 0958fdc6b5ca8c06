"""The dashboard's jobs page: the id box opens a job from its id or a unique prefix, and the
search filters (parameter, dataset owner, dataset name) are the CLI's."""

from __future__ import annotations

import re

from sccli.datasets import add_dataset
from tests.conftest import new_uuid
from tests.dashboard.conftest import Dash, failed_job


def listed(operator: Dash, query: str) -> tuple[set[str], str]:
    page = operator.client.get(f"/jobs?{query}")
    assert page.status_code == 200, page.text
    total = re.search(r'id="jobs-total">([^<]+)<', page.text)
    assert total
    return set(re.findall(r'name="job_id" value="([^"]+)"', page.text)), total.group(1)


def test_the_id_box_opens_the_job(operator: Dash) -> None:
    uuid = str(add_dataset(operator.store, new_uuid(), "scan")["uuid"])
    job_id = operator.queue.create_job(uuid, "data_compression")
    assert 'id="f-id"' in operator.client.get("/jobs").text
    jumped = operator.client.get(f"/jobs?id={job_id[:8]}", follow_redirects=False)
    assert jumped.status_code == 303 and jumped.headers["location"] == f"/jobs/{job_id}"
    assert job_id in operator.client.get(f"/jobs?id={job_id[:8].upper()}").text  # followed: the job's page
    missing = operator.client.get("/jobs?id=ffffffff")
    assert missing.status_code == 404 and "no job id starts with it" in missing.text
    short = operator.client.get("/jobs?id=abc")
    assert short.status_code == 404 and "too short" in short.text


def test_jobs_search_by_parameter_owner_and_name(operator: Dash) -> None:
    alice = str(add_dataset(operator.store, new_uuid(), "Brain scan", user="alice@example.org")["uuid"])
    bob = str(add_dataset(operator.store, new_uuid(), "liver", user="bob@example.org")["uuid"])
    a = operator.queue.create_job(alice, "data_compression", {"format": "lz4"})
    b = operator.queue.create_job(bob, "data_compression", {"format": "zst"})
    broken = failed_job(operator.queue, bob, "disk full")
    assert listed(operator, "user=alice%40example.org") == ({a}, "1")
    assert listed(operator, "dataset_name=LIV") == ({b, broken}, "2")
    assert listed(operator, "param=format%3Dlz4") == ({a}, "1")
    assert listed(operator, "dataset_name=liver&error=disk") == ({broken}, "1")
    assert listed(operator, "user=bob%40example.org&status=pending") == ({b}, "1")
    page = operator.client.get("/jobs?param=format%3Dzst&user=bob%40example.org")
    assert 'value="format=zst"' in page.text and 'value="bob@example.org"' in page.text  # the form keeps the filter
    bad = operator.client.get("/jobs?param=format")
    assert bad.status_code == 422 and "key=value" in bad.text
