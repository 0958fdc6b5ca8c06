"""Which store and database a command uses (one order for the CLI, the service and the API).

URL = ``--db`` > ``SC_DB_URL`` > ``MONGO_URL`` > settings ``db_url`` > the default SQLite file;
database name = ``--db-name`` > ``DB_NAME`` > the database in the URL's path
(``mongodb://host/NAME``) > settings ``db_name`` > ``scientistcloud`` (the contract's "Storage").
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from sccli.errors import InvalidInput

if TYPE_CHECKING:
    from sccli.settings import Settings

_PASSWORD = re.compile(r"(?P<scheme>[a-z+]+://)(?P<user>[^:/@]*):(?P<pw>[^@/]*)@")
DEFAULT_DB_NAME = "scientistcloud"
#: Characters MongoDB refuses in a database name (at most 63 bytes); same rule as the settings'.
_DB_NAME = re.compile(r'[^/\\. "$*<>:|?\x00]{1,63}')
MONGO_SCHEMES = ("mongodb://", "mongodb+srv://")


@dataclass(frozen=True)
class StoreTarget:
    """A resolved store: its URL and database name, and where each came from."""

    url: str
    db_name: str
    url_source: str
    name_source: str

    @property
    def is_default(self) -> bool:
        """True when nothing named a store (the default SQLite file, which anyone may create)."""
        return self.url_source == "default"


def redact(url: str) -> str:
    """Hide the password of a URL: mongodb://u:secret@h → mongodb://u:***@h."""
    return _PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url)


def default_sqlite_path() -> Path:
    """$XDG_DATA_HOME/sccli/scientistcloud.db (~/.local/share by default)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sccli" / "scientistcloud.db"


def sqlite_path_in_url(url: str) -> str | None:
    """The file a SQLite URL names (``sqlite:///p``, ``sqlite:////abs/p`` or a plain path), else None."""
    if url.startswith(MONGO_SCHEMES) or url.startswith("mongomock://"):
        return None
    if url.startswith("sqlite://"):
        path = url[len("sqlite://"):]
        return path[1:] if path.startswith("//") else path  # sqlite:////abs/path
    return None if "://" in url else url


def db_name_in_url(url: str) -> str | None:
    """The database a MongoDB URL names in its path (mongodb://h1,h2/NAME?opts), if any."""
    if not url.startswith(MONGO_SCHEMES):
        return None
    _, _, path = url.split("://", 1)[1].partition("/")
    name = unquote(path.partition("?")[0])
    return name or None


def resolve_store_target(
    flag_url: str | None = None,
    flag_db_name: str | None = None,
    settings: Settings | None = None,
    environ: Mapping[str, str] | None = None,
) -> StoreTarget:
    """The store and database to use, by the contract's order (flags, environment, URL, settings)."""
    env = os.environ if environ is None else environ
    if flag_url is not None and not flag_url.strip():
        raise InvalidInput("--db is empty (give a store URL or leave the option out)")
    if flag_db_name is not None and not flag_db_name.strip():
        raise InvalidInput("--db-name is empty (give a database name or leave the option out)")
    urls = (("--db", flag_url), ("SC_DB_URL", env.get("SC_DB_URL")), ("MONGO_URL", env.get("MONGO_URL")),
            ("settings db_url", settings.db_url if settings else None))
    url_source, url = next(((src, value) for src, value in urls if value), ("default", f"sqlite:///{default_sqlite_path()}"))
    names = (("--db-name", flag_db_name), ("DB_NAME", env.get("DB_NAME")), ("the URL", db_name_in_url(url)),
             ("settings db_name", settings.db_name if settings and settings.db_name != DEFAULT_DB_NAME else None))
    name_source, name = next(((src, value) for src, value in names if value), ("default", DEFAULT_DB_NAME))
    check_db_name(name, name_source)
    return StoreTarget(url, name, url_source, name_source)


def check_db_name(name: str, source: str = "--db-name") -> None:
    """Refuse a database name MongoDB would refuse (``/``, ``.``, spaces, ``$``, NUL..., over 63 bytes)."""
    if not _DB_NAME.fullmatch(name) or len(name.encode()) > 63:
        raise InvalidInput(
            f'database name {name[:80]!r} (from {source}) is not valid: 1-63 characters, none of / \\ . space " $ * < '
            '> : | ?'
        )


def describe_store(target: StoreTarget) -> str:
    """One line for ``sc -v``: which store and database, and where each came from (no password)."""
    def origin(source: str) -> str:
        return "(default)" if source == "default" else f"(from {source})"

    return (
        f"store: {redact(target.url)} {origin(target.url_source)} database: {target.db_name} "
        f"{origin(target.name_source)}"
    )


def check_mongo_url(url: str, source: str = "--db") -> None:
    """Refuse a malformed ``mongodb://`` URL before any client exists (InvalidInput, exit 2).

    ``mongodb+srv://`` URLs are resolved through DNS by pymongo, so only their shape is checked.
    """
    if url.startswith("mongodb+srv://"):
        if not url[len("mongodb+srv://"):].split("/", 1)[0].rpartition("@")[2]:
            raise InvalidInput(f"store URL {redact(url)!r} (from {source}) names no host")
        return
    from pymongo.errors import PyMongoError
    from pymongo.uri_parser import parse_uri

    try:
        parse_uri(url, warn=False)
    except (PyMongoError, ValueError) as exc:
        raise InvalidInput(
            f"store URL {redact(url)!r} (from {source}) is not valid: {redact(str(exc)).splitlines()[0][:200]}"
        ) from None


def resolve_url(explicit: str | None = None) -> str:
    """The store URL to use: the flag, then SC_DB_URL, then MONGO_URL, then the default file."""
    return resolve_store_target(explicit).url


def resolve_db_name(explicit: str | None = None) -> str:
    """The database name without settings: the flag, then DB_NAME, then ``scientistcloud``."""
    return resolve_store_target(None, explicit).db_name
