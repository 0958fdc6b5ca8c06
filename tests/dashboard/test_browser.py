"""The dashboard in a real headless browser (Debian's chromium + chromium-driver, via Selenium),
over a real ``sc api serve`` and a real ``sc service run`` sharing one SQLite store.

Like the wire tests these skip locally, with the reason, when no browser can be had, and fail
in CI (``CI`` set). ``make test`` installs chromium and chromium-driver when it runs as root.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sccli.queue import JobQueue
from sccli.store import open_store
from sccli.store.base import JobQuery, Store
from tests.conftest import StoreSpec, add_dataset
from tests.service.conftest import FAST, ROOT, Service, service_env, wait_for

from .conftest import OPERATOR_TOKEN, VIEWER_TOKEN

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
PLUGINS = {name: f"tests.dashboard.plugins:{name}" for name in ("logged_progress", "quick", "broken")}
WAIT = 20.0


def _no_browser(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"no headless browser in CI: {reason}")
    pytest.skip(f"no headless browser: {reason} (apt-get install chromium chromium-driver)")


def make_driver() -> Any:
    """Headless Chromium at 1280x900, or skip (fail in CI) saying why there is none."""
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
    except ImportError:
        _no_browser("selenium is not installed (the test extra)")
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(binary) or shutil.which(Path(binary).name)):
            _no_browser(f"{binary} not found")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM if os.path.exists(CHROMIUM) else str(shutil.which("chromium"))
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(arg)
    driver_path = CHROMEDRIVER if os.path.exists(CHROMEDRIVER) else str(shutil.which("chromedriver"))
    try:
        return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    except WebDriverException as exc:
        _no_browser(f"chromium did not start: {exc.msg}")


@dataclass
class Site:
    """A running dashboard: its URL, its store, a queue to arrange jobs with, and the browser."""

    url: str
    store: Store
    queue: JobQueue
    driver: Any

    def open(self, path: str) -> None:
        self.driver.get(self.url + path)

    def sign_in(self, token: str) -> None:
        self.driver.delete_all_cookies()
        self.open("/login")
        self.driver.find_element("id", "token").send_keys(token)
        self.driver.find_element("css selector", "form button[type=submit]").click()
        wait_for(lambda: self.driver.find_elements("css selector", "form.who"), WAIT, "the signed-in page")

    def text(self, selector: str) -> str:
        """The element's visible text, read in one step (htmx may swap it at any moment)."""
        found = self.driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;", selector
        )
        assert found is not None, f"no {selector} on {self.driver.current_url}"
        return str(found).strip()

    def job(self, job_type: str, **parameters: Any) -> str:
        return self.queue.create_job(add_dataset(self.store), job_type, parameters or None, max_attempts=1)

    def post_form(self, action: str, fields: dict[str, str]) -> None:
        """Submit a form made in the page (what a forged or hand-made request looks like)."""
        self.driver.execute_script(
            "const f = document.createElement('form'); f.method = 'post'; f.action = arguments[0];"
            "for (const [k, v] of Object.entries(arguments[1])) { const i = document.createElement('input');"
            " i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i); }"
            "document.body.appendChild(f); f.submit();", action, fields)
        wait_for(lambda: "Refused" in self.driver.title, WAIT, "the refusal page")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _settings(base: Path) -> Path:
    data: dict[str, Any] = {
        key: str(base / key) for key in ("in_data_dir", "out_data_dir", "sync_data_dir", "auth_dir", "log_dir")
    }
    for path in data.values():
        Path(path).mkdir(parents=True, exist_ok=True)
    data.update(
        FAST, handlers=PLUGINS, workers=2, api_tokens={"portal": OPERATOR_TOKEN, "watcher": VIEWER_TOKEN},
        api_roles={"watcher": "viewer"},
    )
    path = base / "settings.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """``sc api serve`` and ``sc service run`` over one SQLite file, and a signed-out browser."""
    import httpx

    driver = make_driver()
    base = tmp_path_factory.mktemp("dashboard")
    settings = _settings(base)
    spec = StoreSpec("sqlite", f"sqlite:///{base / 'sc.db'}", "sc")
    store = open_store(spec.url, spec.db_name)
    store.ensure_schema()
    port = _free_port()
    env = {k: v for k, v in service_env().items() if k not in ("SC_API_TOKEN", "SC_DB_URL", "MONGO_URL")}
    server = subprocess.Popen(
        [
            sys.executable, "-m", "sccli", "--db", spec.url, "--settings", str(settings), "api", "serve", "--port",
            str(port), "--log-level", "warning",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    service = Service(spec, settings)
    url = f"http://127.0.0.1:{port}"
    try:
        def answers() -> bool:
            assert server.poll() is None, (
                f"sc api serve exited: {server.stderr.read().decode() if server.stderr else ''}"
            )
            try:
                return httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False
        wait_for(answers, WAIT, "sc api serve")
        yield Site(url, store, JobQueue(store, actor="cli:test@host", extra_types=PLUGINS), driver)
    finally:
        driver.quit()
        service.close()
        server.send_signal(signal.SIGTERM)
        code = server.wait(10)
        store.close()
        assert code == 0, f"sc api serve exited {code} after SIGTERM"


@pytest.fixture
def operator_site(site: Site) -> Site:
    site.sign_in(OPERATOR_TOKEN)
    return site


def _until(predicate: Callable[[], Any], what: str) -> Any:
    return wait_for(predicate, WAIT, what)


def test_sign_in_and_the_overview_updates_when_a_job_completes(operator_site: Site) -> None:
    site = operator_site
    site.open("/")
    assert "Overview" in site.driver.title and "portal" in site.text("form.who")
    before = int(site.text('[data-count="completed"]').replace(",", ""))
    site.driver.execute_script("window.notReloaded = true;")
    job_id = site.job("quick")
    _until(lambda: site.store.get_job(job_id)["status"] == "completed", "the service to complete the job")
    _until(
        lambda: int(site.text('[data-count="completed"]').replace(",", "")) == before + 1,
        "the overview to show the completed job",
    )
    assert site.driver.execute_script("return window.notReloaded === true"), (
        "the overview reloaded instead of refreshing in place"
    )
    assert site.text("#health-overall") in ("healthy", "warning", "critical")


def test_filter_jobs_by_status(operator_site: Site) -> None:
    from selenium.webdriver.support.ui import Select

    site = operator_site
    failed = site.job("broken")
    site.job("quick")
    _until(lambda: site.store.get_job(failed)["status"] == "failed", "the broken job to fail")
    site.open("/jobs")
    Select(site.driver.find_element("id", "f-status")).select_by_value("failed")
    site.driver.find_element("id", "apply-filter").click()
    _until(lambda: "status=failed" in site.driver.current_url, "the filtered page")
    statuses = {b.text for b in site.driver.find_elements("css selector", "table.jobs td .badge")}
    assert statuses == {"failed"}
    assert site.text("#jobs-total") == str(site.store.count_jobs(JobQuery(status=["failed"])))
    assert site.driver.find_element("css selector", f'input[value="{failed}"]')


def test_a_running_job_shows_its_progress_and_log_tail(operator_site: Site) -> None:
    site = operator_site
    job_id = site.job("logged_progress", seconds=6)
    _until(lambda: site.store.get_job(job_id)["status"] == "running", "the job to start")
    site.open(f"/jobs/{job_id}")
    seen = set()

    def progressing() -> bool:
        seen.add(float(site.driver.execute_script("return document.getElementById('job-progress').value")))
        return len(seen) >= 2 and max(seen) > 0 and "logged_progress handler" in site.text("#job-log")
    _until(progressing, "the progress bar to move and the log tail to show the handler's lines")
    _until(lambda: "completed" in site.text("h1"), "the page to reload itself once the job completed")


def test_retry_a_failed_group_after_its_confirmation(operator_site: Site) -> None:
    site = operator_site
    broken = [site.job("broken") for _ in range(2)]
    _until(lambda: all(site.store.get_job(j)["status"] == "failed" for j in broken), "the broken jobs to fail")
    site.open("/failures")
    row = next(r for r in site.driver.find_elements("css selector", "table.failures tbody tr") if "broken" in r.text)
    count = int(row.find_element("css selector", "td.num").text)
    row.find_element("css selector", "a.button").click()
    _until(lambda: "Retry" in site.text("h1"), "the confirmation")
    assert site.text("h1") == f"Retry {count} failed broken jobs?"
    site.driver.find_element("id", "confirm-retry").click()
    _until(lambda: site.text("h1").startswith("Retried"), "the result page")
    assert site.text("h1").startswith(f"Retried: {count} jobs")
    for job_id in broken:
        assert any(
            e.get("reason") == "explicit retry" and e["actor"] == "api:portal" for e in site.store.find_events(job_id)
        )


def test_a_viewer_is_refused_an_action(site: Site) -> None:
    failed = site.job("broken")
    _until(lambda: site.store.get_job(failed)["status"] == "failed", "the broken job to fail")
    site.sign_in(VIEWER_TOKEN)
    site.open(f"/jobs/{failed}")
    assert not site.driver.find_elements("id", "retry-job") and "viewer" in site.text("main")
    csrf = site.driver.find_element("css selector", "form.who input[name=csrf]").get_attribute("value")
    site.post_form(f"/jobs/{failed}/retry", {"csrf": csrf})
    assert "is a viewer" in site.text("p.alert")
    assert site.store.get_job(failed)["status"] == "failed"


def test_a_post_without_the_csrf_token_is_refused(operator_site: Site) -> None:
    site = operator_site
    failed = site.job("broken")
    _until(lambda: site.store.get_job(failed)["status"] == "failed", "the broken job to fail")
    site.open(f"/jobs/{failed}")
    site.post_form(f"/jobs/{failed}/retry", {})
    assert "CSRF" in site.text("p.alert")
    assert site.store.get_job(failed)["status"] == "failed"


FOCUSABLE = """
return [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary, \
[tabindex]:not([tabindex="-1"])')]
  .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden' && !e.disabled)
  .map(e => e.id || e.outerHTML.slice(0, 120));
"""
ACTIVE = "const e = document.activeElement; return e ? (e.id || e.outerHTML.slice(0, 120)) : null;"


def _tab_through(site: Site) -> tuple[list[str], set[str]]:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    expected = site.driver.execute_script(FOCUSABLE)
    reached = set()
    for _ in range(len(expected) + 3):
        ActionChains(site.driver).send_keys(Keys.TAB).perform()
        reached.add(site.driver.execute_script(ACTIVE))
    return expected, reached


def test_keyboard_alone_reaches_every_action(operator_site: Site) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    site = operator_site
    failed = site.job("broken")
    _until(lambda: site.store.get_job(failed)["status"] == "failed", "the broken job to fail")
    for path in ("/", "/jobs", f"/jobs/{failed}", "/failures", "/report?days=7", "/datasets"):
        site.open(path)
        time.sleep(0.2)  # let the deferred scripts run (they reveal "select all")
        expected, reached = _tab_through(site)
        missing = [e for e in expected if e not in reached]
        assert expected and not missing, f"{path}: Tab never reached {missing}"
    site.open(f"/jobs/{failed}")
    for _ in range(40):
        ActionChains(site.driver).send_keys(Keys.TAB).perform()
        if site.driver.execute_script(ACTIVE) == "retry-job":
            break
    else:
        pytest.fail("Tab never reached the Retry button")
    ActionChains(site.driver).send_keys(Keys.ENTER).perform()
    _until(lambda: "Retried" in site.text("main"), "the retry made with the keyboard")
    assert any(e.get("reason") == "explicit retry" for e in site.store.find_events(failed))
