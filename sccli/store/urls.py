"""Store URL resolution (flag > SC_DB_URL > MONGO_URL > default file) and redaction."""

from __future__ import annotations

import os
import re
from pathlib import Path

_PASSWORD = re.compile(r"(?P<scheme>[a-z+]+://)(?P<user>[^:/@]*):(?P<pw>[^@/]*)@")


def redact(url: str) -> str:
    """Hide the password of a URL: mongodb://u:secret@h → mongodb://u:***@h."""
    return _PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url)


def default_sqlite_path() -> Path:
    """$XDG_DATA_HOME/sccli/scientistcloud.db (~/.local/share by default)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sccli" / "scientistcloud.db"


def resolve_url(explicit: str | None = None) -> str:
    """The store URL to use: the flag, then SC_DB_URL, then MONGO_URL, then the default file."""
    for candidate in (explicit, os.environ.get("SC_DB_URL"), os.environ.get("MONGO_URL")):
        if candidate:
            return candidate
    return f"sqlite:///{default_sqlite_path()}"


def resolve_db_name(explicit: str | None = None) -> str:
    return explicit or os.environ.get("DB_NAME") or "scientistcloud"
