"""A plugin job type installed as a ``sccli.handlers`` entry point is still found, though
importlib.metadata is only consulted when some distribution declares that group."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sccli import handlers
from sccli.settings import Settings
from sccli.store import open_store
from sccli.store.base import JobQuery

PLUGIN = '''
PARAMETERS = ()


def run(job, ctx):
    return {"echo": True}
'''


def install_plugin(root: Path) -> Path:
    """A distribution ``sccli-echo-plugin`` on ``root`` declaring the job type ``echo_plugin``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "sccli_echo_plugin.py").write_text(PLUGIN)
    info = root / "sccli_echo_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sccli-echo-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[console_scripts]\nx = y:z\n\n[sccli.handlers]\necho_plugin = sccli_echo_plugin:run\n"
    )
    return root


def test_a_plugin_entry_point_is_found_when_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "echo_plugin" not in handlers.plugin_types(Settings())
    monkeypatch.syspath_prepend(str(install_plugin(tmp_path)))
    assert handlers._group_declared(handlers.ENTRY_POINT_GROUP)
    assert "echo_plugin" in handlers.plugin_types(Settings())
    assert handlers.resolve_handler("echo_plugin", Settings())({}, None) == {"echo": True}


def test_no_declaration_no_metadata_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other-1.0.dist-info"
    other.mkdir()
    (other / "entry_points.txt").write_text("[console_scripts]\nother = other:main\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path), str(tmp_path / "missing")])
    assert not handlers._group_declared(handlers.ENTRY_POINT_GROUP)
    assert handlers._group_declared("console_scripts")
    (tmp_path / "packed.zip").write_bytes(b"")
    monkeypatch.setattr(sys, "path", [str(tmp_path / "packed.zip")])
    assert handlers._group_declared(handlers.ENTRY_POINT_GROUP)  # a zip on the path: look properly


def test_the_cli_finds_a_plugin_type_through_its_entry_point(tmp_path: Path) -> None:
    plugin_dir = install_plugin(tmp_path / "site")
    env = {
        **os.environ, "SC_DB_URL": f"sqlite:///{tmp_path / 'p.db'}", "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "TYPER_USE_RICH": "0",
    }
    env.pop("MONGO_URL", None)
    open_store(env["SC_DB_URL"]).count_jobs(JobQuery())  # creates the file
    sc = [sys.executable, "-c", "import sys; sys.argv[0] = 'sc'; from sccli.cli import main; main()"]
    without = subprocess.run(
        [*sc, "job", "list", "--type", "echo_plugin"], env=env, capture_output=True, text=True, timeout=60
    )
    assert without.returncode == 2 and "unknown job type 'echo_plugin'" in without.stderr
    env["PYTHONPATH"] = str(plugin_dir)
    listed = subprocess.run(
        [*sc, "job", "list", "--type", "echo_plugin"], env=env, capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    types = subprocess.run(
        [*sc, "job", "types", "echo_plugin", "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert types.returncode == 0 and '"job_type": "echo_plugin"' in types.stdout
