"""A planted ``<log_dir>/sc_job_<id>.log`` (a symbolic link, a hard link, a FIFO) is refused by every
writer and reader of job logs: the service writes nothing through it and notes it in the job's
``logs``; ``sc job logs`` (with and without ``--follow``), ``sc job show``, the API and the dashboard
never display what it points at, and nobody hangs on a FIFO."""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from sccli.joblog_files import UnsafeLogFile, open_for_append, open_for_read
from sccli.service.joblog import LogPump
from sccli.settings import Settings
from tests.conftest import StoreSpec
from tests.service.conftest import ROOT, make_queue, new_job, service_env, write_settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SECRET = "root:x:0:0:SECRET-OF-THE-VICTIM-FILE"
TOKEN = "portal-token-0123456789abcdef"


def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_text(SECRET + "\n")
    return path


def sc(spec: StoreSpec, settings: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "sccli", "--db", spec.url, "--db-name", spec.db_name, "--settings", str(settings),
           *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=service_env(), cwd=ROOT, timeout=60)


def api_job(spec: StoreSpec, log_dir: Path, job_id: str) -> tuple[str, str]:
    """The API's job document and the dashboard's job page, as text."""
    from sccli.api import create_app

    app = create_app(spec.url, spec.db_name, Settings(log_dir=str(log_dir)), {"portal": TOKEN})
    with TestClient(app) as client:
        document = client.get(f"/api/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {TOKEN}"})
        assert document.status_code == 200, document.text
        signed = client.post("/login", data={"token": TOKEN, "next": "/"}, headers={"Origin": "http://testserver"},
                             follow_redirects=False)
        assert signed.status_code == 303, signed.text
        page = client.get(f"/jobs/{job_id}")
        assert page.status_code == 200, page.text
        return document.text, html.unescape(page.text)


def test_a_planted_log_link_is_refused_by_the_writer_and_every_reader(
    sqlite_spec: StoreSpec, tmp_path: Path, services: Any
) -> None:
    target = victim(tmp_path)
    settings = write_settings(tmp_path)
    queue = make_queue(sqlite_spec.open())
    job_id = new_job(queue, "ok")
    (tmp_path / "logs").mkdir(exist_ok=True)
    (tmp_path / "logs" / f"sc_job_{job_id}.log").symlink_to(target)
    service = services(sqlite_spec, settings, "--until-idle")
    assert service.wait() == 0, service.log()
    job = queue.require_job(job_id)
    assert job["status"] == "completed"
    assert target.read_text() == SECRET + "\n"  # nothing was written through the link
    assert "refused" in job["logs"][-1]["message"] and "symbolic link" in job["logs"][-1]["message"]
    assert f"job {job_id}: [sccli: job log" in service.log() and "SECRET" not in service.log()
    for args in (("job", "logs", job_id), ("job", "logs", job_id, "--follow"), ("job", "show", job_id)):
        shown = sc(sqlite_spec, settings, *args)
        assert shown.returncode == 0, shown.stderr
        assert "SECRET" not in shown.stdout + shown.stderr and "refused" in shown.stdout + shown.stderr, args
    document, page = api_job(sqlite_spec, tmp_path / "logs", job_id)
    assert "SECRET" not in document and "refused" in json.loads(document)["logs"][-1]["message"]
    assert "SECRET" not in page and "refused" in page


def test_readers_refuse_a_link_planted_after_the_job_ran(sqlite_spec: StoreSpec, tmp_path: Path) -> None:
    settings = write_settings(tmp_path)
    queue = make_queue(sqlite_spec.open())
    job_id = new_job(queue, "ok")
    queue.add_log(job_id, "kept in the store")
    (tmp_path / "logs").mkdir(exist_ok=True)
    (tmp_path / "logs" / f"sc_job_{job_id}.log").symlink_to(victim(tmp_path))
    for args in (("job", "logs", job_id), ("job", "logs", job_id, "--json"), ("job", "show", job_id)):
        shown = sc(sqlite_spec, settings, *args)
        assert shown.returncode == 0, shown.stderr
        assert "SECRET" not in shown.stdout + shown.stderr and "refused" in shown.stdout + shown.stderr, args
    logs = sc(sqlite_spec, settings, "job", "logs", job_id)
    assert logs.stdout == "kept in the store\n"
    document, page = api_job(sqlite_spec, tmp_path / "logs", job_id)
    assert "SECRET" not in document + page and "refused" in page and "kept in the store" in page


def test_a_link_swapped_in_while_following_is_not_followed(sqlite_spec: StoreSpec, tmp_path: Path) -> None:
    settings = write_settings(tmp_path)
    queue = make_queue(sqlite_spec.open())
    job_id = new_job(queue, "ok")
    (tmp_path / "logs").mkdir(exist_ok=True)
    log = tmp_path / "logs" / f"sc_job_{job_id}.log"
    log.write_text("first line\n")
    queue.add_log(job_id, "kept in the store")
    claimed = queue.claim_next("w", types=["ok"])
    assert claimed is not None
    follower = subprocess.Popen(
        [sys.executable, "-m", "sccli", "--db", sqlite_spec.url, "--settings", str(settings),
         "job", "logs", job_id, "--follow"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=service_env(), cwd=ROOT,
    )
    assert follower.stdout is not None
    assert follower.stdout.readline() == "first line\n"
    log.unlink()
    log.symlink_to(victim(tmp_path))
    queue.complete(job_id, claimed["lease_token"], {})
    out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    assert "SECRET" not in out + err and "refused" in err


def test_hard_links_fifos_and_foreign_names_are_refused(tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    target = victim(tmp_path)
    os.link(target, log_dir / "sc_job_hard.log")
    os.mkfifo(log_dir / "sc_job_fifo.log")
    (log_dir / "sc_job_link.log").symlink_to(target)
    for job_id in ("hard", "fifo", "link"):
        with pytest.raises(UnsafeLogFile):
            open_for_append(log_dir, job_id)
        with pytest.raises(UnsafeLogFile):
            open_for_read(log_dir, job_id)
    for bad in ("..", "a/b", ""):
        with pytest.raises(UnsafeLogFile):
            open_for_read(log_dir, bad)
    pump = LogPump(log_dir / "sc_job_hard.log", 1000)
    pump.feed(b"attacker-controlled text\n")
    pump.finish()
    assert target.read_text() == SECRET + "\n"
    assert pump.summary().startswith("[sccli: job log ") and "hard link" in pump.summary()


def test_an_earlier_attempts_own_log_is_appended_to(tmp_path: Path) -> None:
    fd = open_for_append(tmp_path, "again")
    os.write(fd, b"attempt 1\n")
    os.close(fd)
    fd = open_for_append(tmp_path, "again")
    os.write(fd, b"attempt 2\n")
    os.close(fd)
    found = open_for_read(tmp_path, "again")
    assert found is not None
    with found:
        assert found.read() == b"attempt 1\nattempt 2\n"
    assert open_for_read(tmp_path, "never-ran") is None
