"""A named SQLite file that does not exist is created only by commands that write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sccli.cli.app import app

READ_COMMANDS = [
    ["job", "show", "550e8400-e29b-41d4-a716-446655440000"],
    ["job", "list"],
    ["dataset", "show", "550e8400-e29b-41d4-a716-446655440000"],
    ["dataset", "list"],
    ["monitor", "overview"],
    ["monitor", "report"],
    ["monitor", "failed"],
    ["monitor", "stale"],
    ["monitor", "metrics"],
    ["service", "status"],
    ["migrate", "validate"],
    ["migrate", "list"],
]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in ("SC_DB_URL", "MONGO_URL", "DB_NAME"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("command", READ_COMMANDS, ids=[" ".join(c[:2]) for c in READ_COMMANDS])
@pytest.mark.parametrize("named_by", ["--db", "SC_DB_URL", "settings"])
def test_read_commands_say_it_is_missing(
    command: list[str], named_by: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nested" / "missing.db"
    args = ["--db", f"sqlite:///{missing}"]
    if named_by == "SC_DB_URL":
        monkeypatch.setenv("SC_DB_URL", f"sqlite:///{missing}")
        args = []
    elif named_by == "settings":
        (tmp_path / "s.json").write_text(f'{{"db_url": "sqlite:///{missing}"}}')
        args = ["--settings", str(tmp_path / "s.json")]
    result = CliRunner().invoke(app, [*args, *command])
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert f"SQLite store {missing} does not exist (a command that writes creates it)" in result.stderr
    assert not missing.exists() and not missing.parent.exists()


@pytest.mark.usefixtures("clean_env")
def test_check_reports_unknown(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    result = CliRunner().invoke(app, ["--db", f"sqlite:///{missing}", "monitor", "overview", "--check"])
    assert result.exit_code == 3
    assert result.stdout.startswith("SC QUEUE UNKNOWN") and "does not exist" in result.stdout
    assert not missing.exists()


@pytest.mark.usefixtures("clean_env")
def test_a_writing_command_creates_it_and_reads_then_work(tmp_path: Path) -> None:
    store = tmp_path / "new" / "sc.db"
    db = ["--db", f"sqlite:///{store}"]
    assert CliRunner().invoke(app, [*db, "dataset", "add"]).exit_code == 0
    assert store.is_file()
    listed = CliRunner().invoke(app, [*db, "dataset", "list", "--json"])
    assert listed.exit_code == 0 and len(json.loads(listed.stdout)["items"]) == 1


@pytest.mark.usefixtures("clean_env")
def test_the_default_file_may_be_created_by_anyone(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["job", "list"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "xdg" / "sccli" / "scientistcloud.db").is_file()


@pytest.mark.usefixtures("clean_env")
def test_an_unusable_data_home_is_one_line_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain_file = tmp_path / "not-a-dir"
    plain_file.write_text("x")
    monkeypatch.setenv("XDG_DATA_HOME", str(plain_file))
    result = CliRunner().invoke(app, ["dataset", "add"])
    assert result.exit_code == 3
    assert result.stderr == f"Error: cannot create the SQLite store's folder {plain_file}/sccli: Not a directory\n"
