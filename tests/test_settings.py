"""The settings model: every bad value is refused with one line naming its dotted key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sccli.errors import InvalidInput, NotFound
from sccli.settings import Settings, load_settings, settings_from_dict, validate_settings
from tests.service.conftest import FAST

BAD_VALUES: list[tuple[dict[str, Any], str]] = [
    ({"workers": 1e9}, "settings: workers must be a whole number between 1 and 256, got 1000000000.0"),
    ({"workers": 257}, "workers must be a whole number between 1 and 256"),
    ({"workers": 0}, "workers must be"),
    ({"workers": True}, "workers must be a whole number"),
    ({"workers": "2"}, "workers must be a whole number"),
    ({"stale_after_seconds": 0}, "stale_after_seconds must be a number between"),
    ({"poll_interval_seconds": 0}, "poll_interval_seconds must be a number between 0.001 and 3600"),
    ({"heartbeat_seconds": -1}, "heartbeat_seconds must be"),
    ({"drain_seconds": -0.5}, "drain_seconds must be a number between 0 and 86400"),
    ({"kill_grace_seconds": 1e9}, "kill_grace_seconds must be a number between 0 and 3600"),
    ({"retry_max_seconds": 1e30}, "retry_max_seconds must be"),
    ({"migration_grace_seconds": -1}, "migration_grace_seconds must be"),
    ({"health_failure_rate_critical": 1.5}, "health_failure_rate_critical must be a number between 0 and 1"),
    ({"health_stale_warning": -1}, "health_stale_warning must be"),
    ({"backup_keep": 0}, "backup_keep must be"),
    ({"api_max_body_bytes": 10}, "api_max_body_bytes must be a whole number between 1024"),
    (
        {"converters": {"TIFF": "convert"}},
        "settings: converters.TIFF must be a list of strings (not empty), got 'convert'",
    ),
    ({"converters": {"TIFF": []}}, "converters.TIFF must be a list of strings"),
    ({"converters": {"TIFF": ["tool", 3]}}, "converters.TIFF[1] must be a string, got 3"),
    ({"converters": []}, "converters must be an object of lists of strings"),
    (
        {"max_concurrent_by_type": {"google_sync": 1, "dataset_conversion": 0}},
        "settings: max_concurrent_by_type.dataset_conversion must be a whole number between 1 and 256",
    ),
    (
        {"max_concurrent_by_type": {"dataset_conversion": 1.5}},
        "max_concurrent_by_type.dataset_conversion must be a whole number",
    ),
    ({"handlers": {"mine": "no_colon"}}, "handlers.mine must be a 'module:function' string, got 'no_colon'"),
    ({"handlers": {"mine": 3}}, "handlers.mine must be a 'module:function' string"),
    ({"api_tokens": {"portal": None}}, "api_tokens.portal must be a string, got None"),
    ({"types": ["ok", 1]}, "types[1] must be a string, got 1"),
    ({"types": "ok"}, "types must be a list of strings or null"),
    ({"rsync_allowed_hosts": [None]}, "rsync_allowed_hosts[0] must be a string"),
    ({"db_name": "a/b"}, "db_name must be a database name"),
    ({"db_name": "x" * 64}, "db_name must be a database name"),
    ({"db_url": 5}, "db_url must be a string or null"),
    ({"in_data_dir": ""}, "in_data_dir must be a non-empty string"),
    ({"log_dir": "/tmp/a\x00b"}, "log_dir must not contain a NUL character"),
    ({"backup_dir": 1}, "backup_dir must be a non-empty string or null"),
    ({"offline": "yes"}, "offline must be true or false"),
    ({"bogus": 1}, "settings: unknown key 'bogus'"),
    (
        {"heartbeat_seconds": 40, "stale_after_seconds": 60},
        "stale_after_seconds (60) must be at least twice heartbeat_seconds (40)",
    ),
    (
        {"retry_base_seconds": 100, "retry_max_seconds": 10},
        "retry_max_seconds (10) must not be less than retry_base_seconds (100)",
    ),
    (
        {"retry_by_type": {"google_sync": {"base_seconds": -1}}},
        "retry_by_type.google_sync.base_seconds must be a number between 0 and 2.592e+06, got -1",
    ),
    (
        {"retry_by_type": {"google_sync": {"base": 5}}},
        "retry_by_type.google_sync has unknown key 'base' (base_seconds, max_seconds)",
    ),
    (
        {"retry_by_type": {"google_sync": {"base_seconds": 7200}}},
        "retry_by_type.google_sync: max_seconds (3600) must not be less",
    ),
    (
        {"retry_by_type": {"google_sync": {"base_seconds": 600, "max_seconds": 60}}},
        "max_seconds (60) must not be less than base_seconds (600)",
    ),
]


def test_retry_backoff_per_type_overrides_the_global_one() -> None:
    from sccli.queue import JobQueue
    from sccli.store import open_store

    settings = settings_from_dict(
        {"retry_base_seconds": 10, "retry_by_type": {"google_sync": {"base_seconds": 300, "max_seconds": 7200}}}
    )
    assert settings.retry_policy("google_sync") == (300, 7200) and settings.retry_policy("data_validation") == (
        10,
        3600,
    )
    partial = settings_from_dict({"retry_by_type": {"file_upload": {"max_seconds": 60}}})
    assert partial.retry_policy("file_upload") == (30, 60)
    queue = JobQueue.from_settings(open_store("mongomock://retry_policy", "retry_policy"), settings, check_paths=False)
    assert queue.lifecycle.retry_by_type == {"google_sync": (300, 7200)}


@pytest.mark.parametrize(
    ("data", "message"), BAD_VALUES, ids=[next(iter(d)) + f"-{i}" for i, (d, _) in enumerate(BAD_VALUES)]
)
def test_each_bad_value_names_its_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        settings_from_dict(data)
    text = str(caught.value)
    assert message in text and "\n" not in text and text.startswith("settings")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_file_with_nan_or_infinity_is_refused(tmp_path: Path, literal: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(f'{{"poll_interval_seconds": {literal}}}')
    with pytest.raises(InvalidInput, match="is not valid JSON"):
        load_settings(path)


def test_nan_in_a_mapping_is_refused_too() -> None:
    with pytest.raises(InvalidInput, match="poll_interval_seconds must be a number"):
        settings_from_dict({"poll_interval_seconds": float("nan")})
    with pytest.raises(InvalidInput, match="heartbeat_seconds must be a number"):
        settings_from_dict({"heartbeat_seconds": float("inf")})


def test_defaults_keys_and_attribute_access_are_kept(tmp_path: Path) -> None:
    settings = Settings()
    assert (settings.workers, settings.db_name, settings.stale_after_seconds, settings.api_max_body_bytes) == (
        2, "scientistcloud", 60.0, 1024 * 1024,
    )
    assert settings.data_dirs == [
        Path("/mnt/visus_datasets/upload"), Path("/mnt/visus_datasets/converted"), Path("/mnt/visus_datasets/sync"),
    ]
    assert settings_from_dict(settings.to_dict()) == settings
    assert load_settings(None) == settings
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"workers": 4, "poll_interval_seconds": 1, "converters": {"TIFF": ["tool", "{input}"]}}))
    loaded = load_settings(path)
    assert (
        loaded.workers == 4 and loaded.poll_interval_seconds == 1.0 and isinstance(loaded.poll_interval_seconds, float)
    )
    assert loaded.converters == {"TIFF": ["tool", "{input}"]}


def test_the_service_tests_fast_intervals_are_valid() -> None:
    assert settings_from_dict(dict(FAST)).heartbeat_seconds == 0.2


def test_settings_built_in_code_are_checked_by_validate_settings() -> None:
    assert validate_settings(Settings(workers=3)).workers == 3
    with pytest.raises(InvalidInput, match="max_concurrent_by_type.dataset_conversion"):
        validate_settings(Settings(max_concurrent_by_type={"dataset_conversion": 0}))


def test_file_problems_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_settings(tmp_path / "missing.json")
    with pytest.raises(InvalidInput, match="must be a JSON object"):
        (tmp_path / "list.json").write_text("[]")
        load_settings(tmp_path / "list.json")
    with pytest.raises(InvalidInput, match="cannot be read"):
        load_settings(tmp_path)
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InvalidInput, match="nested too deeply"):
        load_settings(tmp_path / "deep.json")
