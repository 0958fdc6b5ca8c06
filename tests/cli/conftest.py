"""CLI test helpers: run `sc` in-process with a fixed width and no colour."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from typer.testing import CliRunner

from sccli.cli.app import app

Run = Callable[..., "object"]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def sc(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    """``sc("job", "list")`` → click Result; the store is a temp SQLite file."""
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("SC_DB_URL", raising=False)
    monkeypatch.delenv("MONGO_URL", raising=False)
    runner = CliRunner()

    def run(*args: str, db: str | None = db_url, input: str | None = None) -> object:
        prefix = ["--db", db] if db else []
        return runner.invoke(app, [*prefix, *args], catch_exceptions=False, input=input)

    return run
