"""The settings defaults a read command takes without importing the settings model are Settings()'s."""

from __future__ import annotations

import pytest

from sccli.setting_defaults import DEFAULTS, default_setting
from sccli.settings import Settings


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_each_default_is_the_settings_default(name: str) -> None:
    expected = getattr(Settings(), name)
    assert DEFAULTS[name] == expected and type(DEFAULTS[name]) is type(expected), name


def test_a_setting_not_listed_comes_from_the_settings_model() -> None:
    assert "workers" not in DEFAULTS
    assert default_setting("workers") == Settings().workers
    assert default_setting("data_dirs") == Settings().data_dirs


def test_a_monitor_without_settings_reads_the_defaults_and_builds_them_only_when_asked() -> None:
    from sccli.monitor import JobMonitor
    from sccli.store import open_store

    monitor = JobMonitor(open_store("sqlite:///:memory:"))
    assert monitor._setting("stale_after_seconds") == Settings().stale_after_seconds
    assert monitor._settings is None  # a read did not build the model
    assert monitor.settings == Settings()
    given = Settings(stale_after_seconds=7.0, heartbeat_seconds=1.0)
    assert JobMonitor(open_store("sqlite:///:memory:"), settings=given)._setting("stale_after_seconds") == 7.0
