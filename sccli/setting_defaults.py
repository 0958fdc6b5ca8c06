"""The defaults of the settings a read command uses, without importing the settings model.

:class:`sccli.settings.Settings` is a msgspec ``Struct``: importing it costs about 10 ms of CPU
(msgspec, typing_extensions, inspect), a fifth of a read command's budget. A command run without
a settings file reads its few settings here instead (``sc job show``, ``sc monitor overview``).
``tests/test_setting_defaults.py`` keeps every value equal to ``Settings()``'s; a name not listed
here is read from a real ``Settings()``, so a forgotten one is slower, never wrong.
"""

from __future__ import annotations

from typing import Any

#: Immutable defaults only (a list or a dict default would be shared between callers).
DEFAULTS: dict[str, Any] = {
    "db_url": None,
    "db_name": "scientistcloud",
    "log_dir": "/tmp",
    "stale_after_seconds": 60.0,
    "health_failure_rate_critical": 0.20,
    "health_stale_warning": 5,
    "check_no_service_warning_seconds": 120.0,
    "check_no_service_critical_seconds": 900.0,
    "retention": None,
}


def default_setting(name: str) -> Any:
    """The default value of setting ``name`` (what ``Settings()`` holds)."""
    if name in DEFAULTS:
        return DEFAULTS[name]
    from sccli.settings import Settings

    return getattr(Settings(), name)
