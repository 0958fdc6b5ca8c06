"""``sc job types``: every type with its defaults and declared parameters, as text and JSON."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sccli.cli.app import app
from sccli.domain import JOB_TYPE_CONFIGS
from sccli.handlers.specs import PARAMETERS


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False, env={"NO_COLOR": "1", "COLUMNS": "200"})


def test_json_lists_every_type_with_defaults_and_parameters():
    result = run("job", "types", "--json")
    assert result.exit_code == 0, result.output
    described = {entry["job_type"]: entry for entry in json.loads(result.output)}
    assert set(JOB_TYPE_CONFIGS) <= set(described)
    for name, config in JOB_TYPE_CONFIGS.items():
        entry = described[name]
        assert (entry["priority"], entry["timeout_minutes"], entry["max_attempts"]) == (
            config.priority, config.timeout_minutes, config.max_attempts,
        )
        assert [p["name"] for p in entry["parameters"]] == [p.name for p in PARAMETERS[name]]
    rsync = {p["name"]: p for p in described["rsync_transfer"]["parameters"]}
    assert rsync["source"]["required"] is True and rsync["options"]["default"] == ["-a"]


def test_text_names_one_type_and_plugins_without_declarations(tmp_path: Path, monkeypatch):
    result = run("job", "types", "data_compression", "--format", "plain")
    assert result.exit_code == 0
    assert "data_compression: Compress data for storage (priority 3, timeout 45 min, 2 attempts)" in result.output
    assert "level" in result.output and "tar.zst" in result.output
    (tmp_path / "quiet_plugin.py").write_text("def run(ctx):\n    return {}\n")
    (tmp_path / "settings.json").write_text(json.dumps({"handlers": {"quiet": "quiet_plugin:run"}}))
    monkeypatch.syspath_prepend(str(tmp_path))
    result = run("--settings", str(tmp_path / "settings.json"), "job", "types", "quiet")
    assert result.exit_code == 0 and "parameters not declared" in result.output
    result = CliRunner().invoke(app, ["job", "types", "no_such_type"])
    assert result.exit_code == 2 and "no handler for job type 'no_such_type'" in result.output
