"""`sc doctor` is right on every fix it prints: each printed command is run (or, for installs that
cannot run here, checked against the package index or pyproject's extras) and the check it fixes
then passes; a missing settings file is a settings problem, dead services are listed, a fresh
machine passes."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sccli import doctor
from sccli.clock import utcnow
from sccli.pause import pause_types
from sccli.store import open_store
from tests.cli.test_doctor import checks, settings_file
from tests.monitor.history import worker

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(db_url: str) -> Any:
    opened = open_store(db_url)
    opened.ensure_schema()
    return opened


def run_fix(sc: Any, settings: Path, command: str) -> None:
    """Run a printed fix command as an operator would (sc with the same store and settings)."""
    argv = shlex.split(command)
    if argv[0] == "sc":
        done = sc("--settings", str(settings), *argv[1:])
        assert done.exit_code == 0, (command, done.stdout, done.stderr)
    elif argv[:2] == ["apt-get", "install"]:  # installing is not ours to do here: the package must exist
        if shutil.which("apt-cache") is None:
            pytest.skip("apt-cache is not installed: cannot check the printed package names")
        found = subprocess.run(["apt-cache", "show", *argv[2:]], capture_output=True, text=True, timeout=60)
        assert found.returncode == 0 and "Package:" in found.stdout, (command, found.stderr)
    else:
        assert subprocess.run(argv, timeout=60).returncode == 0, command


def test_every_printed_command_fixes_its_check(
    sc: Any, tmp_path: Path, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "not there" / "out"
    settings = settings_file(tmp_path, out_data_dir=str(missing))
    pause_types(store, ["backup_creation"], "maintenance", "test")
    worker(store, "alive", utcnow())
    worker(store, "gone", utcnow() - timedelta(hours=2))
    before = checks(sc("--settings", str(settings), "doctor", "--json"))
    commands = {name: c["command"] for name, c in before.items() if c["command"]}
    assert set(commands) == {"dir out_data_dir", "paused", "services"}, before
    assert "gone" in before["services"]["detail"] and before["services"]["level"] == "warn"
    for command in commands.values():
        run_fix(sc, settings, command)
    after = checks(sc("--settings", str(settings), "doctor", "--json"))
    assert {name: after[name]["level"] for name in commands} == {name: "ok" for name in commands}


def test_no_live_service_prints_a_working_unit_command_and_lists_the_dead(sc: Any, tmp_path: Path, store: Any) -> None:
    settings = settings_file(tmp_path)
    worker(store, "crashed-7", utcnow() - timedelta(hours=2))
    services = checks(sc("--settings", str(settings), "doctor", "--json"))["services"]
    assert services["level"] == "warn" and "dead: crashed-7" in services["detail"], services
    run_fix(sc, settings, services["command"])
    text = sc("--settings", str(settings), "doctor")
    assert "crashed-7" in text.stdout


def test_install_fixes_name_real_packages_and_extras(
    sc: Any, tmp_path: Path, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None)
    monkeypatch.setattr(doctor.importlib.util, "find_spec", lambda name: None)
    settings = settings_file(tmp_path)
    found = checks(sc("--settings", str(settings), "doctor", "--json"))
    tools = {name: c for name, c in found.items() if name.startswith("tool ")}
    assert len(tools) == 5 and all(c["level"] in ("warn", "fail") for c in tools.values())
    for name, check in tools.items():
        if name == "tool OpenVisus":
            continue
        monkeypatch.undo()  # apt-cache itself must be found
        run_fix(sc, settings, check["command"])
    fix = tools["tool OpenVisus"]["fix"]
    extra = re.fullmatch(r"pip install 'sccli\[(\w+)\]'", fix)
    assert extra, fix
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(dep.startswith("OpenVisus") for dep in extras[extra.group(1)]), extras


def test_missing_settings_file_is_a_settings_problem_not_a_store_failure(sc: Any, tmp_path: Path, store: Any) -> None:
    out = sc("--settings", str(tmp_path / "nope.json"), "doctor", "--json")
    found = checks(out)
    assert out.exit_code == 1 and found["settings"]["level"] == "fail" and "not found" in found["settings"]["detail"]
    assert "--settings" in found["settings"]["fix"] and "key" not in found["settings"]["fix"]
    assert found["store"]["level"] == "ok" and found["reachable"]["level"] == "ok"


def test_a_fresh_machine_is_ok(sc: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    out = sc("--settings", str(settings_file(tmp_path)), "doctor", "--json", db=None)
    found = checks(out)
    assert found["store"]["level"] == "ok" and found["reachable"]["level"] == "ok", found
    assert out.exit_code == 0, json.loads(out.stdout)
