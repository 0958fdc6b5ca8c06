"""``sc doctor``: check the installation and the store, and say how to fix what fails.

Each check gives a :class:`Check` with a level: ``ok``, ``warn`` (works, but look at it),
``fail`` (something will not work; exit 1) or ``skip`` (does not apply here), a detail and,
when not ok, the fix; ``command`` is the fix's exact command line when it has one (a test runs
each of them, so a printed fix stays right).
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sccli import domain
from sccli.clock import utcnow
from sccli.errors import NotFound, ScError

if TYPE_CHECKING:
    from sccli.settings import Settings
    from sccli.store.base import Store
    from sccli.store.urls import StoreTarget

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
#: Clock difference to the store above which staleness rules (written by several hosts) mislead.
MAX_CLOCK_SKEW_SECONDS = 5.0
#: External tools, the job types that need each, and how to get it.
TOOLS: dict[str, tuple[tuple[str, ...], str]] = {
    "rsync": (("rsync_transfer",), "apt-get install rsync"),
    "rclone": (("google_sync", "file_upload"), "apt-get install rclone"),
    "7z": (("file_extraction", "data_validation"), "apt-get install 7zip"),
    "unzip": ((), "apt-get install unzip"),
}
OPENVISUS_TYPES = ("dataset_conversion",)
#: The extra of pyproject.toml that brings OpenVisus (OpenVisusNoGui) with the other format readers.
OPENVISUS_FIX = "pip install 'sccli[formats]'"


@dataclass
class Check:
    """One finding of ``sc doctor``."""

    name: str
    level: str
    detail: str
    fix: str | None = None
    command: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def diagnose(
    open_store: Callable[[Settings], Store], load_settings: Callable[[], Settings],
    target: Callable[[Settings], StoreTarget] | None = None,
) -> list[Check]:
    """Every check, in the order an operator would look (store first, then this host).

    ``open_store`` and ``target`` get the settings read (the defaults when they could not be
    read: a settings problem is reported as one, and the store is still checked).
    """
    checks: list[Check] = []
    settings = _settings_check(load_settings, checks)
    try:
        is_default = target is not None and target(settings).is_default
    except ScError:  # a bad store URL: open_store reports it as the store's failure
        is_default = False
    store = _store_checks(lambda: open_store(settings), checks, is_default)
    checks.extend(_directory_checks(settings))
    checks.extend(_tool_checks(settings))
    if store is not None:
        checks.extend(_store_content_checks(store, settings))
    return checks


def healthy(checks: list[Check]) -> bool:
    """No check failed (warnings allowed)."""
    return all(c.level != FAIL for c in checks)


def _settings_check(load_settings: Callable[[], Settings], checks: list[Check]) -> Settings:
    from sccli.settings import Settings

    try:
        settings = load_settings()
    except NotFound as exc:
        fix = (
            "check the --settings path (the service's is in its unit: systemctl cat sc-service); "
            "without it the defaults apply"
        )
        checks.append(Check("settings", FAIL, f"{exc}; the checks below use the default settings", fix))
        return Settings()
    except ScError as exc:
        checks.append(
            Check(
                "settings", FAIL, str(exc),
                "fix the key named in the settings file (see the README settings table), then run sc doctor again",
            )
        )
        return Settings()
    checks.append(Check("settings", OK, "settings are valid"))
    return settings


def _store_checks(open_store: Callable[[], Store], checks: list[Check], is_default: bool = False) -> Store | None:
    try:
        store = open_store()
    except ScError as exc:
        checks.append(Check("store", FAIL, str(exc), "check --db / SC_DB_URL / MONGO_URL (and DB_NAME)"))
        return None
    name = getattr(store, "db_name", None)
    checks.append(
        Check("store", OK, f"{store.kind} store {store.display_url}" + (f", database {name}" if name else ""))
    )
    path = store.missing_file()
    if path is not None:
        # Pinging would create the file: doctor only looks.
        if is_default:  # a fresh machine: nothing named a store, the first command creates this one
            checks.append(
                Check("reachable", OK, f"the default store {path} does not exist yet; the first command creates it")
            )
            return None
        fix = "check --db; the file is created by the first writing command (sc job create, sc service run)"
        checks.append(Check("reachable", FAIL, f"the SQLite file {path} does not exist", fix))
        return None
    try:
        store.ping()
    except ScError as exc:
        checks.append(Check("reachable", FAIL, str(exc), store.unreachable_fix))
        return None
    checks.append(Check("reachable", OK, "the store answers"))
    return store


def _store_content_checks(store: Store, settings: Settings) -> list[Check]:
    return [_schema_check(store), _services_check(store, settings), _clock_check(store), _paused_check(store),
            _retention_check(store, settings)]


def _schema_check(store: Store) -> Check:
    """Indexes judged by the store itself (by key pattern and options on MongoDB, as it adopts them)."""
    try:
        problems, missing_by_key = store.schema_problems(), store.missing_indexes()
        expected = store.ledger.expected_index_names()
    except ScError as exc:
        return Check("schema", FAIL, f"cannot list indexes: {exc}", "check that the account may list indexes")
    if problems:
        return Check("schema", FAIL, "; ".join(p.detail for p in problems), "; then ".join(p.fix for p in problems))
    missing = [f"{key}.{name}" for key, names in sorted(missing_by_key.items()) for name in sorted(names)]
    if missing:
        return Check(
            "schema",
            FAIL,
            f"{len(missing)} index(es) missing: {', '.join(missing)}",
            "they are created when a writing command first opens the store (e.g. sc service run); if they stay "
            "missing, check the account's rights",
        )
    return Check("schema", OK, f"tables and all {sum(len(v) for v in expected.values())} indexes present")


def _directory_checks(settings: Settings) -> list[Check]:
    from sccli.settings import DATA_DIR_KEYS

    paths = [(key, getattr(settings, key)) for key in DATA_DIR_KEYS] + [("log_dir", settings.log_dir)]
    if settings.backup_dir:
        paths.append(("backup_dir", settings.backup_dir))
    out = []
    for key, raw in paths:
        path = Path(raw)
        if not path.is_dir():
            out.append(Check(
                f"dir {key}", FAIL, f"{path} does not exist",
                f"mkdir -p {path} (and give the service's user write access), or set {key} in settings.json",
                command=f"mkdir -p {shlex.quote(str(path))}",
            ))
        elif not os.access(path, os.W_OK | os.X_OK):
            out.append(
                Check(
                    f"dir {key}", FAIL, f"{path} is not writable by this user",
                    f"chown/chmod {path} for the service's user",
                )
            )
        else:
            out.append(Check(f"dir {key}", OK, f"{path} exists and is writable"))
    return out


def served_types(settings: Settings) -> list[str]:
    """The job types a service with these settings would run."""
    types = list(settings.types or domain.JOB_TYPE_CONFIGS)
    if settings.offline:
        types = [t for t in types if not (t in domain.JOB_TYPE_CONFIGS and domain.job_type_config(t).requires_internet)]
    return types


def _tool_checks(settings: Settings) -> list[Check]:
    served = set(served_types(settings))
    out = []
    for tool, (types, how) in TOOLS.items():
        found = shutil.which(tool) or (tool == "7z" and (shutil.which("7zz") or shutil.which("7za")))
        out.append(_tool_check(tool, bool(found), str(found or ""), served & set(types), how))
    has_visus = importlib.util.find_spec("OpenVisus") is not None
    out.append(_tool_check("OpenVisus", has_visus, "python module", served & set(OPENVISUS_TYPES), OPENVISUS_FIX))
    return out


def _tool_check(tool: str, found: bool, where: str, needed_by: set[str], how: str) -> Check:
    if found:
        return Check(f"tool {tool}", OK, f"found ({where})")
    fix = f"{how} (or scripts/install-tools.sh)" if how.startswith("apt-get") else how
    if needed_by:
        return Check(f"tool {tool}", FAIL, f"missing; needed by {', '.join(sorted(needed_by))} (served here)", fix, how)
    return Check(f"tool {tool}", WARN, "missing; no job type served here needs it", fix, how)


def _services_check(store: Store, settings: Settings) -> Check:
    from sccli.service.status import LIVE_STATES, service_rows

    rows = service_rows(store, settings.stale_after_seconds)
    live = [r for r in rows if r["state"] in LIVE_STATES]
    dead = [r for r in rows if r["state"] == domain.ServiceState.DEAD]
    ready = sum(b["ready"] for b in store.stats.pending_backlog(utcnow()))
    dead_part = f"; dead: {', '.join(_service_name(r) for r in dead)}" if dead else ""
    if not live:
        level = FAIL if ready else WARN
        fix = (
            "start one: sc service run SETTINGS.json (systemd: sc service unit > "
            "/etc/systemd/system/sc-service.service)"
        )
        return Check(
            "services", level, f"no live service ({ready} job(s) ready to run){dead_part}", fix, "sc service unit"
        )
    detail = f"{len(live)} live service(s): {', '.join(str(r['worker_id']) for r in live)}"
    if dead:
        fix = "sc service status shows them; sc service prune --older-than 0s removes them"
        return Check("services", WARN, detail + dead_part, fix, "sc service prune --older-than 0s")
    return Check("services", OK, detail)


def _service_name(row: dict[str, Any]) -> str:
    """A dead service as an operator finds it: its id and where it ran."""
    where = f"{row.get('host')}:{row.get('pid')}" if row.get("host") else ""
    return f"{row['worker_id']} ({where})" if where else str(row["worker_id"])


def _clock_check(store: Store) -> Check:
    if not store.shared_clock:
        return Check("clock", SKIP, f"n/a for {store.kind} (one host's clock)")
    try:
        reply = store.client.admin.command("hello")  # type: ignore[attr-defined]
        server_time = reply.get("localTime")
    except Exception as exc:  # mongomock and old servers: no localTime to compare
        return Check("clock", SKIP, f"the server does not report its time ({type(exc).__name__}); skipped")
    if server_time is None:
        return Check("clock", SKIP, "the server does not report its time; skipped")
    if server_time.tzinfo is None:
        from datetime import UTC

        server_time = server_time.replace(tzinfo=UTC)
    skew = (utcnow() - server_time).total_seconds()
    if abs(skew) > MAX_CLOCK_SKEW_SECONDS:
        fix = (
            "sync the clocks with NTP (chrony/timesyncd): stale-job detection compares times written by different hosts"
        )
        return Check("clock", FAIL, f"this host's clock is {skew:+.1f}s off the store's", fix)
    return Check("clock", OK, f"within {abs(skew):.1f}s of the store's")


def _paused_check(store: Store) -> Check:
    from sccli.monitor.coverage import paused_job_types

    paused = paused_job_types(store)
    if not paused:
        return Check("paused", OK, "nothing is paused")
    listed = ", ".join(
        f"{t} ({info.get('reason') or 'no reason'}, by {info.get('actor')})" for t, info in sorted(paused.items())
    )
    resume = "sc queue resume " + " ".join(sorted(paused))
    return Check("paused", WARN, f"paused: {listed}", f"{resume} when they may run again (sc queue status)", resume)


#: With retention off, a finished job older than this makes doctor warn.
RETENTION_WARN_DAYS = 90


def _retention_check(store: Store, settings: Settings) -> Check:
    if settings.retention is not None:
        r = settings.retention
        ages = f"completed after {r.completed_days} d, failed after {r.failed_days} d"
        return Check("retention", OK, f"daily at {r.at} {r.timezone}: {ages}")
    oldest = store.tallies.first_completed_at()
    if oldest is not None and store.now() - oldest > timedelta(days=RETENTION_WARN_DAYS):
        fix = 'set retention in settings.json, e.g. {"completed_days": 30, "at": "03:15"} (docs/schedules.md)'
        age = (store.now() - oldest).days
        return Check("retention", WARN, f"retention is off and the oldest finished job is {age} days old", fix)
    return Check("retention", OK, "off; no finished job older than 90 days")
