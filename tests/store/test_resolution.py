"""One store resolution (contract "Storage"): each level beats the next, the same in the
resolution function, the CLI, the service's settings and the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
from typer.testing import CliRunner

from sccli.errors import InvalidInput
from sccli.settings import Settings, load_settings
from sccli.store import describe_store, open_store, resolve_store_target
from sccli.store.urls import db_name_in_url

ENV_KEYS = ("SC_DB_URL", "MONGO_URL", "DB_NAME")

#: Every level of each order, highest first: (flag, env var or settings key, value).
URL_LEVELS = [
    ("--db", "mongodb://flag/"), ("SC_DB_URL", "mongodb://sc-env/"), ("MONGO_URL", "mongodb://mongo-env/"),
    ("settings", "mongodb://settings/"),
]
NAME_LEVELS = [("--db-name", "flagname"), ("DB_NAME", "envname"), ("url", "urlname"), ("settings", "settingsname")]


def resolve_with(how: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, flag_url: str | None, flag_name: str | None,
                 env: dict[str, str], settings: dict[str, Any]) -> tuple[str, str]:
    """(url, database) as ``how`` resolves them: the function, the CLI, the service or the API."""
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(settings))
    if how == "function":
        target = resolve_store_target(flag_url, flag_name, load_settings(path))
        return target.url, target.db_name
    from sccli.cli.context import Application

    if how == "cli":  # sc --db ... --db-name ... --settings settings.json <command>
        store: Any = Application(flag_url, flag_name, str(path)).store
    elif how == "service":  # sc --db ... service run settings.json
        application = Application(flag_url, flag_name)
        application.settings_path = str(path)
        store = application.store_for_write
    else:
        from sccli.api import create_app

        store = create_app(flag_url, flag_name, load_settings(path), {"portal": "p" * 16}).state.api.store
    url = getattr(store, "url", None) or f"sqlite:///{store.path}"
    return url, store.db_name if hasattr(store, "db_name") else "scientistcloud"


HOW = ["function", "cli", "service", "api"]


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("top", range(len(URL_LEVELS) + 1))
def test_url_each_level_beats_the_next(how: str, top: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    levels = dict(URL_LEVELS[top:])  # every level from `top` down is configured at once
    env = {key: levels[key] for key in ("SC_DB_URL", "MONGO_URL") if key in levels}
    settings = {"db_url": levels["settings"]} if "settings" in levels else {}
    url, _ = resolve_with(how, monkeypatch, tmp_path, levels.get("--db"), None, env, settings)
    expected = (
        URL_LEVELS[top][1] if top < len(URL_LEVELS) else f"sqlite:///{tmp_path / 'xdg' / 'sccli' / 'scientistcloud.db'}"
    )
    assert url.replace("sqlite:////", "sqlite:///") == expected.replace("sqlite:////", "sqlite:///")


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("top", range(len(NAME_LEVELS) + 1))
def test_database_name_each_level_beats_the_next(
    how: str, top: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    levels = dict(NAME_LEVELS[top:])
    url = "mongodb://host/urlname" if "url" in levels else "mongodb://host/"
    env = {"DB_NAME": levels["DB_NAME"]} if "DB_NAME" in levels else {}
    settings = {"db_name": levels["settings"]} if "settings" in levels else {}
    _, name = resolve_with(how, monkeypatch, tmp_path, url, levels.get("--db-name"), env, settings)
    assert name == (NAME_LEVELS[top][1] if top < len(NAME_LEVELS) else "scientistcloud")


def test_sources_are_named_and_passwords_hidden() -> None:
    env = {"MONGO_URL": "mongodb://admin:s3cret@db1:27017,db2/portal?replicaSet=rs0", "DB_NAME": "other"}
    target = resolve_store_target(None, None, Settings(db_url="mongodb://ignored/"), environ=env)
    line = describe_store(target)
    assert (
        line
        == (
            "store: mongodb://admin:***@db1:27017,db2/portal?replicaSet=rs0 (from MONGO_URL) "
            "database: other (from DB_NAME)"
        )
    )
    assert "s3cret" not in line
    default = resolve_store_target(None, None, None, environ={})
    assert default.is_default and describe_store(default).endswith("(default) database: scientistcloud (default)")
    assert (
        resolve_store_target(None, None, Settings(db_name="fromsettings"), environ={}).name_source == "settings db_name"
    )


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("mongodb://h/db", "db"), ("mongodb://u:p@h1,h2:27017/db%2Dx?w=1", "db-x"), ("mongodb://h/", None),
        ("mongodb://h", None), ("mongodb+srv://c.example.net/app?retryWrites=true", "app"), ("sqlite:///a/b.db", None),
    ],
)
def test_database_in_the_url(url: str, name: str | None) -> None:
    assert db_name_in_url(url) == name


@pytest.mark.parametrize(("flag", "env", "message"), [
    ("", {}, "--db is empty"),
    (None, {"DB_NAME": "a/b"}, "'a/b' (from DB_NAME) is not valid"),
    ("mongodb://h/a.b", {}, "(from the URL) is not valid"),
    ("mongodb://h:99999/", {}, "is not valid: Port must be"),
    ("mongodb://u:pw@h/db?nosuchoption=1", {}, "mongodb://u:***@h/db"),
    ("mongodb://", {}, "Must provide at least one hostname"),
])
def test_bad_urls_and_names_are_invalid_input(flag: str | None, env: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        open_store(flag) if not env else resolve_store_target(flag, None, None, environ=env)
    assert message in str(caught.value) and ":pw@" not in str(caught.value)


def test_open_store_keeps_working_for_library_callers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    store: Any = open_store(f"sqlite:///{tmp_path / 'lib.db'}")
    store.ping()
    assert (tmp_path / "lib.db").is_file()
    assert open_store("mongodb://h/fromurl").db_name == "fromurl"  # type: ignore[attr-defined]
    assert open_store("mongodb://h/fromurl", "explicit").db_name == "explicit"  # type: ignore[attr-defined]


def test_sc_v_prints_the_store_line_on_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sccli.cli.app import app

    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("DB_NAME", "fromenv")
    db = f"sqlite:///{tmp_path / 'v.db'}"
    result = CliRunner().invoke(app, ["-v", "--db", db, "dataset", "add"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[0] == f"store: {db} (from --db) database: fromenv (from DB_NAME)"
    quiet: Callable[..., Any] = CliRunner().invoke
    assert quiet(app, ["-q", "-v", "--db", db, "dataset", "list"]).stderr == ""
    assert "store:" not in CliRunner().invoke(app, ["--db", db, "dataset", "list"]).stderr
