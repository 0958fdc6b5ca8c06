"""`sc doctor`: each check through the CLI, failures with their fix, exit 0/1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sccli import doctor
from sccli.clock import utcnow
from sccli.store import open_store
from tests.monitor.history import worker


def settings_file(tmp_path: Path, **overrides: Any) -> Path:
    data: dict[str, Any] = {"types": ["backup_creation"], "log_dir": str(tmp_path)}
    for key in ("in_data_dir", "out_data_dir", "sync_data_dir", "auth_dir"):
        (tmp_path / key).mkdir(exist_ok=True)
        data[key] = str(tmp_path / key)
    data.update(overrides)
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(data))
    return path


def checks(result: Any) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in json.loads(result.stdout)["checks"]}


@pytest.fixture
def live_store(db_url: str) -> Any:
    store = open_store(db_url)
    store.ensure_schema()
    worker(store, "w1", utcnow())
    return store


def test_a_healthy_installation_passes(sc: Any, tmp_path: Path, live_store: Any) -> None:
    out = sc("--settings", str(settings_file(tmp_path)), "doctor", "--json")
    assert out.exit_code == 0, out.stdout
    found = checks(out)
    assert found["store"]["level"] == "ok" and "sqlite" in found["store"]["detail"]
    assert found["schema"]["level"] == "ok" and found["services"]["level"] == "ok"
    assert found["clock"]["level"] == "skip" and found["paused"]["level"] == "ok"
    assert {
        found[f"dir {k}"]["level"] for k in ("in_data_dir", "out_data_dir", "sync_data_dir", "auth_dir", "log_dir")
    } == {"ok"}
    text = sc("--settings", str(settings_file(tmp_path)), "doctor")
    assert text.exit_code == 0 and "[ok  ] reachable" in text.stdout and "all checks passed" in text.stderr


def test_failures_print_their_fix(sc: Any, tmp_path: Path, live_store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "not-there"
    out = sc("--settings", str(settings_file(tmp_path, out_data_dir=str(missing))), "doctor")
    assert out.exit_code == 1
    assert "[FAIL] dir out_data_dir" in out.stdout and f"fix: mkdir -p {missing}" in out.stdout
    # A store re-creates its indexes when opened; an account without the right to do so is what
    # leaves one missing, so the store here reports one less than it expects.
    from sccli.store.sqlite import SqliteStore

    real = SqliteStore.index_names
    name = sorted(live_store.ledger.expected_index_names()["jobs"])[0]
    monkeypatch.setattr(
        SqliteStore, "index_names", lambda self: {k: [n for n in v if n != name] for k, v in real(self).items()}
    )
    schema = checks(sc("--settings", str(settings_file(tmp_path)), "doctor", "--json"))["schema"]
    assert schema["level"] == "fail" and name in schema["detail"] and schema["fix"]


def test_bad_settings_and_missing_store_are_reported_not_raised(sc: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"wokers": 2}))
    out = sc("--settings", str(bad), "doctor", "--json")
    assert out.exit_code == 1 and "unknown key 'wokers'" in checks(out)["settings"]["detail"]
    gone = tmp_path / "gone.db"
    absent = sc("doctor", "--json", db=f"sqlite:///{gone}")
    assert checks(absent)["reachable"]["level"] == "fail" and not gone.exists()  # doctor only looks


def test_a_missing_tool_fails_only_when_a_served_type_needs_it(
    sc: Any, tmp_path: Path, live_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None)
    relaxed = checks(sc("--settings", str(settings_file(tmp_path)), "doctor", "--json"))
    assert relaxed["tool rsync"]["level"] == "warn"
    needed = sc("--settings", str(settings_file(tmp_path, types=["rsync_transfer"])), "doctor", "--json")
    assert (
        needed.exit_code == 1
        and checks(needed)["tool rsync"]["level"] == "fail"
        and "rsync_transfer" in checks(needed)["tool rsync"]["detail"]
    )


def test_no_live_service_with_ready_jobs_fails(sc: Any, tmp_path: Path, db_url: str) -> None:
    from sccli.queue import JobQueue
    from tests.conftest import add_dataset

    store = open_store(db_url)
    store.ensure_schema()
    queue = JobQueue(store)
    queue.create_job(add_dataset(store), "backup_creation")
    services = checks(sc("--settings", str(settings_file(tmp_path)), "doctor", "--json"))["services"]
    assert (
        services["level"] == "fail" and "1 job(s) ready" in services["detail"] and "sc service run" in services["fix"]
    )


def test_clock_check_on_mongomock_is_skipped_with_a_note(sc: Any, tmp_path: Path) -> None:
    out = sc("--settings", str(settings_file(tmp_path)), "doctor", "--json", db="mongomock://doctor")
    assert checks(out)["clock"]["level"] == "skip"


def test_clock_against_a_real_mongodb(sc: Any, tmp_path: Path, wire_spec: Any) -> None:
    store = wire_spec.open()
    store.ensure_schema()
    out = sc(
        "--settings", str(settings_file(tmp_path)), "--db-name", wire_spec.db_name, "doctor", "--json", db=wire_spec.url
    )
    found = checks(out)
    assert found["reachable"]["level"] == "ok" and found["schema"]["level"] == "ok"
    assert found["clock"]["level"] in ("ok", "skip") and "n/a" not in found["clock"]["detail"]
