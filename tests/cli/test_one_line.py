"""Error and notice lines are never wrapped, whatever the terminal width (cron mail, 2>log)."""

from __future__ import annotations

import pytest

from sccli.cli.context import Application


@pytest.mark.parametrize("columns", ["40", "80"])
def test_long_notices_and_warnings_stay_one_line(
    columns: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    a = Application(color=False)
    words = " ".join(f"word{i}" for i in range(40))  # ~270 characters with spaces to break at
    a.warn(words)
    a.info(words)
    a.err.print(f"Error: {words}", markup=False)
    err = capsys.readouterr().err
    assert err.splitlines() == [f"Warning: {words}", words, f"Error: {words}"]
