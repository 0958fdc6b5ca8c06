"""What each page shows and what each action does, through FastAPI's TestClient."""

from __future__ import annotations

import html
import re

import pytest

from sccli.clock import utcnow
from sccli.store.base import JobQuery
from tests.conftest import add_dataset

from .conftest import Dash, failed_job


def _count(html: str, name: str) -> str:
    match = re.search(rf'data-count="{name}">([^<]+)<', html)
    assert match, f"no count {name}"
    return match.group(1)


def test_overview_shows_health_counts_services_and_the_hourly_chart(operator: Dash) -> None:
    dataset = add_dataset(operator.store)
    failed_job(operator.queue, dataset)
    operator.queue.create_job(dataset, "dataset_conversion")
    operator.store.upsert_worker(
        {
            "worker_id": "host-a:42", "host": "host-a", "pid": 42, "status": "running", "slots": 2, "running_jobs": [],
            "heartbeat_at": utcnow(),
        }
    )
    page = operator.client.get("/")
    assert page.status_code == 200
    assert (
        _count(page.text, "total") == "2" and _count(page.text, "failed") == "1" and _count(page.text, "pending") == "1"
    )
    assert 'id="health-overall">critical<' in page.text and "failure rate 100.0%" in page.text
    assert "host-a:42" in page.text and 'hx-trigger="every 2s"' in page.text
    assert '<svg class="chart" id="chart-hours"' in page.text and 'class="legend">failed<' in page.text
    assert re.search(r"<title[^>]*>Finished jobs per hour", page.text)
    fragment = operator.client.get("/fragments/overview")
    assert fragment.status_code == 200 and "<html" not in fragment.text and _count(fragment.text, "total") == "2"
    assert (
        page.headers["content-security-policy"].startswith("default-src 'self'")
        and page.headers["x-content-type-options"] == "nosniff"
    )


def test_the_overview_fragment_follows_the_queue(operator: Dash, monkeypatch: pytest.MonkeyPatch) -> None:
    from sccli.api.dashboard import views

    monkeypatch.setattr(views, "OVERVIEW_REUSE_SECONDS", 0.0)
    dataset = add_dataset(operator.store)
    job_id = operator.queue.create_job(dataset, "data_validation")
    assert _count(operator.client.get("/fragments/overview").text, "completed") == "0"
    claimed = operator.queue.claim_next("w1")
    assert claimed is not None
    operator.queue.complete(job_id, claimed["lease_token"], {"status": "ok"})
    after = operator.client.get("/fragments/overview").text
    assert _count(after, "completed") == "1" and _count(after, "pending") == "0"


def test_browsers_polling_together_share_one_computation_of_the_overview(
    operator: Dash, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sccli.api.dashboard import views

    monkeypatch.setattr(views, "OVERVIEW_REUSE_SECONDS", 3600.0)
    assert _count(operator.client.get("/fragments/overview").text, "pending") == "0"
    operator.queue.create_job(add_dataset(operator.store), "data_validation")
    assert _count(operator.client.get("/").text, "pending") == "0"
    monkeypatch.setattr(views, "OVERVIEW_REUSE_SECONDS", 0.0)
    assert _count(operator.client.get("/fragments/overview").text, "pending") == "1"


def test_jobs_filter_by_status_type_dataset_and_error_text_with_a_total(operator: Dash) -> None:
    first, second = add_dataset(operator.store), add_dataset(operator.store)
    failed = [failed_job(operator.queue, first, f"HTTP 503 from drive after {n} tries") for n in range(3)]
    other = failed_job(operator.queue, second, "disk full")
    pending = operator.queue.create_job(second, "dataset_conversion")

    def ids(query: str) -> tuple[set[str], str]:
        page = operator.client.get(f"/jobs?{query}")
        assert page.status_code == 200, page.text
        total = re.search(r'id="jobs-total">([^<]+)<', page.text)
        assert total
        return set(re.findall(r'name="job_id" value="([^"]+)"', page.text)), total.group(1)

    assert ids("") == ({*failed, other, pending}, "5")
    assert ids("status=failed") == ({*failed, other}, "4")
    assert ids("job_type=dataset_conversion") == ({pending}, "1")
    assert ids(f"dataset={second}") == ({other, pending}, "2")
    assert ids("error=http+503") == (set(failed), "3")
    assert ids("status=failed&error=DISK") == ({other}, "1")
    assert ids("status=running") == (set(), "0")
    for bad, message in (
        ("status=lost", "unknown job status"), ("job_type=nope", "unknown job type"),
        ("dataset=not-a-uuid", "malformed dataset UUID"),
    ):
        page = operator.client.get(f"/jobs?{bad}")
        assert page.status_code == 422 and message in page.text, bad


def test_jobs_pages_through_results_with_the_total(operator: Dash) -> None:
    dataset = add_dataset(operator.store)
    for _ in range(55):
        operator.queue.create_job(dataset, "data_validation", allow_duplicate=True)
    first = operator.client.get("/jobs").text
    assert (
        'Showing 1–50 of <strong class="num" id="jobs-total">55</strong>' in first
        and "page 1 of 2" in first
        and 'id="next-page"' in first
    )
    second = operator.client.get("/jobs?page=2").text
    assert (
        "Showing 51–55" in second
        and 'id="prev-page"' in second
        and len(re.findall(r'name="job_id" value=', second)) == 5
    )


def test_the_job_page_shows_what_sc_job_show_shows_and_the_log_tail(operator: Dash) -> None:
    dataset = add_dataset(operator.store)
    job_id = operator.queue.create_job(
        dataset, "data_validation", {"manifest_path": "/data/in/manifest.json"}, max_attempts=2
    )
    claimed = operator.queue.claim_next("host-a:42", host="host-a", pid=42)
    assert claimed is not None
    operator.queue.fail(job_id, claimed["lease_token"], "first attempt broke")
    claimed = operator.queue.claim_next("host-a:42", host="host-a", pid=42)
    assert claimed is not None
    operator.queue.heartbeat(job_id, claimed["lease_token"], 42.5, "step 3 of 7")
    log = operator.settings.log_dir + f"/sc_job_{job_id}.log"
    with open(log, "w") as fh:
        fh.writelines(f"line {i}\n" for i in range(100))
    page = html.unescape(operator.client.get(f"/jobs/{job_id}").text)
    assert '"manifest_path": "/data/in/manifest.json"' in page and "first attempt broke" in page
    assert 'value="42.5"' in page and "step 3 of 7" in page and "running on host-a:42" in page
    assert "line 99" in page and "line 59" not in page and f"sc_job_{job_id}.log" in page
    assert "cli:test@host" in page and "worker:host-a:42" in page and "claimed by host-a:42" in page
    assert 'id="cancel-job"' in page and 'id="retry-job"' not in page
    assert f'hx-get="/fragments/jobs/{job_id}"' in page
    live = operator.client.get(f"/fragments/jobs/{job_id}")
    assert live.status_code == 200 and "hx-refresh" not in live.headers
    operator.queue.complete(job_id, claimed["lease_token"], {"rows": 7})
    ended = operator.client.get(f"/fragments/jobs/{job_id}")
    assert ended.headers["hx-refresh"] == "true" and "hx-trigger" not in ended.text
    assert '"rows": 7' in html.unescape(operator.client.get(f"/jobs/{job_id}").text)


def test_a_job_that_ran_elsewhere_shows_the_log_kept_in_the_store(operator: Dash) -> None:
    job_id = operator.queue.create_job(add_dataset(operator.store), "data_validation")
    operator.queue.add_log(job_id, "kept in the store")
    page = operator.client.get(f"/jobs/{job_id}").text
    assert "kept in the store" in page and "is not on this host" in page
    assert operator.client.get("/jobs/00000000-0000-4000-8000-000000000000").status_code == 404


def test_retry_and_cancel_one_job_record_the_token_as_actor(operator: Dash) -> None:
    dataset = add_dataset(operator.store)
    job_id = operator.queue.create_job(dataset, "data_validation")
    csrf = operator.csrf(f"/jobs/{job_id}")
    cancelled = operator.post(f"/jobs/{job_id}/cancel", {"csrf": csrf, "reason": "wrong sensor"})
    assert cancelled.status_code == 303 and cancelled.headers["location"].endswith("?notice=cancelled")
    job = operator.store.get_job(job_id)
    assert (job["status"], job["error"]) == ("cancelled", "wrong sensor")
    assert "Cancelled." in operator.client.get(cancelled.headers["location"]).text
    again = operator.post(f"/jobs/{job_id}/cancel", {"csrf": csrf})
    assert again.status_code == 409 and "only pending or running" in again.text
    assert operator.post(f"/jobs/{job_id}/retry", {"csrf": csrf}).status_code == 303
    actors = [(e["to"], e["actor"]) for e in operator.store.find_events(job_id) if e.get("entity") == "job"]
    assert actors[-2:] == [("cancelled", "api:portal"), ("pending", "api:portal")]


def test_cancelling_a_running_job_asks_first_without_javascript(operator: Dash) -> None:
    """Issue 19: one click cancelled a running job. The first POST answers a confirmation page
    whose plain form (no script) re-posts with ``confirmed=yes`` and the reason; only that cancels."""
    job_id = operator.queue.create_job(add_dataset(operator.store), "data_validation")
    claimed = operator.queue.claim_next("host-a:42", host="host-a", pid=42)
    assert claimed is not None and claimed["job_id"] == job_id
    csrf = operator.csrf(f"/jobs/{job_id}")
    asked = operator.post(f"/jobs/{job_id}/cancel", {"csrf": csrf, "reason": "wrong sensor"})
    assert asked.status_code == 200 and "Cancel running job" in asked.text
    page = html.unescape(asked.text)
    assert f'action="/jobs/{job_id}/cancel"' in page and 'name="confirmed" value="yes"' in page
    assert 'name="reason" value="wrong sensor"' in page and 'id="confirm-cancel"' in page
    assert "<script" not in asked.text.split("<main")[-1]
    job = operator.store.get_job(job_id)
    assert job["status"] == "running" and not job.get("cancel_requested")
    assert [e["to"] for e in operator.store.find_events(job_id) if e.get("entity") == "job"][-1] == "running"
    done = operator.post(f"/jobs/{job_id}/cancel", {"csrf": csrf, "reason": "wrong sensor", "confirmed": "yes"})
    assert done.status_code == 303 and done.headers["location"].endswith("?notice=cancel-requested")
    assert operator.store.get_job(job_id).get("cancel_requested")


def test_bulk_actions_confirm_first_then_report_done_and_refused(operator: Dash) -> None:
    pending = [operator.queue.create_job(add_dataset(operator.store), "data_validation") for _ in range(3)]
    failed = failed_job(operator.queue, add_dataset(operator.store), job_type="dataset_conversion")
    csrf = operator.csrf()
    chosen = [("csrf", csrf), ("action", "cancel"), *[("job_id", j) for j in [*pending, failed]]]
    confirm = operator.post("/jobs/bulk", chosen)
    assert confirm.status_code == 200 and "Cancel 4 jobs?" in confirm.text
    assert operator.store.count_jobs(JobQuery(status=["pending"])) == 3
    done = operator.post("/jobs/bulk", [*chosen, ("confirmed", "yes")])
    assert (
        done.status_code == 200
        and "Cancelled: 3 jobs, refused: 1" in done.text
        and "only pending or running" in done.text
    )
    assert operator.store.count_jobs(JobQuery(status=["cancelled"])) == 3
    retried = operator.post(
        "/jobs/bulk",
        [("csrf", csrf), ("action", "retry"), ("confirmed", "yes"), *[("job_id", j) for j in [*pending, failed]]],
    )
    assert "Retried: 4 jobs" in retried.text and operator.store.count_jobs(JobQuery(status=["pending"])) == 4
    assert operator.post("/jobs/bulk", [("csrf", csrf), ("action", "retry")]).status_code == 422
    assert operator.post("/jobs/bulk", [("csrf", csrf), ("action", "purge"), ("job_id", failed)]).status_code == 422


def test_failure_groups_retry_after_a_confirmation_with_the_count(operator: Dash) -> None:
    broken = [
        failed_job(operator.queue, add_dataset(operator.store), f"timeout after {n}s on /data/{n}")
        for n in (10, 20, 30)
    ]
    lonely = failed_job(operator.queue, add_dataset(operator.store), "disk full")
    page = operator.client.get("/failures").text
    assert "4 failed jobs in 2 groups" in page and "timeout after &lt;n&gt;s on &lt;path&gt;" in page
    signature = re.search(
        r'href="/failures/confirm\?job_type=data_validation&amp;signature=(\w+)&amp;hours=24" '
        r'id="retry-group-\w+">Retry 3',
        page,
    )
    assert signature, page
    confirm = operator.client.get(f"/failures/confirm?job_type=data_validation&signature={signature.group(1)}&hours=24")
    assert confirm.status_code == 200 and "Retry 3 failed data_validation jobs?" in confirm.text
    assert all(job_id in confirm.text for job_id in broken)
    csrf = operator.csrf("/failures")
    done = operator.post(
        "/failures/retry", {"csrf": csrf, "job_type": "data_validation", "signature": signature.group(1), "hours": "24"}
    )
    assert done.status_code == 200 and "Retried: 3 jobs" in done.text
    assert [operator.store.get_job(j)["status"] for j in broken] == ["pending"] * 3 and operator.store.get_job(lonely)[
        "status"
    ] == "failed"
    assert operator.store.find_events(broken[0])[-1]["actor"] == "api:portal"
    for hours in ("nan", "inf", "-1", "1e9"):  # a non-finite window once reached the store's date arithmetic
        form = {"csrf": csrf, "job_type": "data_validation", "signature": signature.group(1), "hours": hours}
        refused = operator.post("/failures/retry", form)
        assert refused.status_code == 422 and "hours must be" in refused.text, (hours, refused.status_code)
    gone = operator.post(
        "/failures/retry", {"csrf": csrf, "job_type": "data_validation", "signature": signature.group(1), "hours": "24"}
    )
    assert gone.status_code == 404 and "retried already?" in gone.text


def test_the_report_has_per_type_figures_and_a_daily_chart_for_1_7_and_30_days(operator: Dash) -> None:
    dataset = add_dataset(operator.store)
    job_id = operator.queue.create_job(dataset, "data_validation")
    claimed = operator.queue.claim_next("w1")
    assert claimed is not None
    operator.queue.complete(job_id, claimed["lease_token"], {})
    failed_job(operator.queue, dataset, job_type="dataset_conversion")
    for days in (1, 7, 30):
        page = operator.client.get(f"/report?days={days}")
        assert page.status_code == 200 and f'aria-current="page" id="days-{days}"' in page.text
        chart = page.text.split('<svg class="chart" id="chart-days"')[1].split("</svg>")[0]
        assert chart.count("class=\"bar fill-completed\"") == days + 1  # one per day and the legend's swatch
        assert "url(#p-hatch)" not in chart and 'id="p-hatch"' in chart and "fill-hatch" in chart
    page = operator.client.get("/report?days=7").text
    row = page.split("<th scope=\"row\">data_validation</th>")[1].split("</tr>")[0]
    assert "100.0 %" in row
    assert "0.0 %" in page.split("<th scope=\"row\">dataset_conversion</th>")[1].split("</tr>")[0]
    assert operator.client.get("/report?days=3").status_code == 422


def test_datasets_list_and_detail_with_its_jobs_and_transitions(operator: Dash) -> None:
    dataset = add_dataset(operator.store)
    add_dataset(operator.store, status="done")
    operator.queue.create_job(dataset, "dataset_conversion")
    listing = operator.client.get("/datasets").text
    assert dataset in listing and "conversion queued" in listing
    only_done = operator.client.get("/datasets?status=done").text
    assert dataset not in only_done
    detail = operator.client.get(f"/datasets/{dataset}").text
    assert (
        "dataset_conversion" in detail
        and "submitted" in detail
        and "conversion queued" in detail
        and "cli:test@host" in detail
    )
    assert operator.client.get("/datasets/00000000-0000-4000-8000-000000000000").status_code == 404


def test_job_lists_come_in_an_order_the_indexes_give(operator: Dash) -> None:
    import time

    def tick() -> None:  # stored times have millisecond precision: keep each step's apart
        time.sleep(0.003)

    first_failed = failed_job(operator.queue, add_dataset(operator.store), "first")
    tick()
    second_failed = failed_job(operator.queue, add_dataset(operator.store), "second", job_type="dataset_conversion")
    tick()
    last_failed = failed_job(operator.queue, add_dataset(operator.store), "third")
    tick()
    pending = operator.queue.create_job(add_dataset(operator.store), "data_validation")
    operator.queue.create_job(add_dataset(operator.store), "dataset_conversion")
    tick()
    operator.queue.retry(first_failed)  # pending again, changed most recently

    def listed(query: str) -> list[str]:
        page = operator.client.get(f"/jobs?{query}").text
        return re.findall(r'name="job_id" value="([^"]+)"', page)

    assert listed("status=failed") == [last_failed, second_failed]
    assert listed("status=pending")[0] == first_failed
    by_type = listed("job_type=data_validation")
    assert by_type == [pending, first_failed, last_failed]
    assert "pending and running first" in operator.client.get("/jobs?job_type=data_validation").text
    second_page = operator.client.get("/jobs?job_type=data_validation&page=2").text
    assert "No jobs match" in second_page or not re.findall(r'name="job_id" value=', second_page)


def test_a_scheduled_job_shows_its_start_and_runs_now(operator: Dash) -> None:
    from datetime import timedelta

    job_id = operator.queue.create_job(add_dataset(operator.store), "data_validation", delay=timedelta(hours=2))
    listed = operator.client.get("/jobs?status=scheduled").text
    assert (
        job_id in listed
        and 'class="badge status-scheduled"' in listed
        and "starts <time" in listed
        and "(in 2.0 h)" in listed
    )
    page = operator.client.get(f"/jobs/{job_id}").text
    assert (
        "<dt>starts at</dt>" in page
        and 'id="run-now-job"' in page
        and 'id="cancel-job"' in page
        and "scheduled: starts at" in page
    )
    csrf = operator.csrf(f"/jobs/{job_id}")
    done = operator.post(f"/jobs/{job_id}/run-now", {"csrf": csrf})
    assert done.status_code == 303 and done.headers["location"].endswith("?notice=run-now")
    assert operator.store.get_job(job_id)["status"] == "pending"  # type: ignore[index]
    assert "the next free service claims it" in operator.client.get(done.headers["location"]).text
    again = operator.post(f"/jobs/{job_id}/run-now", {"csrf": csrf})
    assert again.status_code == 409 and "only a scheduled job" in again.text
