"""Dynamic shell completions: job types (plugins included), recent job ids, dataset uuids,
schedule names and failure signatures, for bash, zsh and fish through Typer's ``autocompletion=`` callbacks.

The shell runs ``sc`` with ``_SC_COMPLETE`` set on every <TAB>, so each callback imports only
what it reads, opens the store the command line names (``--db``, ``--db-name``, ``--settings``)
with a short timeout, never creates it, and answers nothing rather than an error: a completion
must never print a traceback into the user's prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from sccli.settings import Settings
    from sccli.store.base import Store

#: How long a completion waits for the store (milliseconds): a <TAB> must answer at once.
TIMEOUT_MS = 500
#: At most this many candidates (newest jobs first; datasets in uuid order).
MAX_ITEMS = 30
#: Failure signatures of this many hours back are offered for ``--signature``.
SIGNATURE_HOURS = 24 * 7

Items = list[tuple[str, str]]


def _quietly(fn: Callable[..., Items]) -> Callable[..., Items]:
    """The callback, answering [] on any error (no output: the shell shows what we print)."""

    def complete(ctx: typer.Context, incomplete: str) -> Items:
        try:
            return fn(ctx, incomplete)[:MAX_ITEMS]
        except Exception:  # a completion never fails: no store, bad settings, a plugin that breaks
            return []

    complete.__name__ = fn.__name__
    complete.__doc__ = fn.__doc__
    return complete


def _settings(ctx: typer.Context) -> Settings:
    from sccli.settings import Settings, load_settings

    path = ctx.find_root().params.get("settings")
    return load_settings(path) if path else Settings()


@contextmanager
def _store(ctx: typer.Context) -> Iterator[Store | None]:
    """The store the command line names, or None when it does not exist (never created here)."""
    from pathlib import Path

    from sccli.store import open_target
    from sccli.store.urls import resolve_store_target, sqlite_path_in_url

    root = ctx.find_root().params
    target = resolve_store_target(root.get("db"), root.get("db_name"), _settings(ctx))
    path = sqlite_path_in_url(target.url)
    if path is not None and path and not Path(path).expanduser().exists():
        yield None
        return
    store = open_target(target, TIMEOUT_MS, create=False)
    try:
        yield store
    finally:
        store.close()


@_quietly
def job_types(ctx: typer.Context, incomplete: str) -> Items:
    """Built-in job types, settings plugins and ``sccli.handlers`` entry points."""
    from sccli import domain
    from sccli.handlers import plugin_types

    names = sorted({*domain.JOB_TYPE_CONFIGS, *plugin_types(_settings(ctx))})
    return [(name, _type_help(name)) for name in names if name.startswith(incomplete)]


def _type_help(name: str) -> str:
    from sccli import domain

    config = domain.JOB_TYPE_CONFIGS.get(name)
    return getattr(config, "description", "") or ("plugin" if config is None else "")


@_quietly
def job_ids(ctx: typer.Context, incomplete: str) -> Items:
    """The newest job ids (those starting with what was typed), with their type and status."""
    from sccli.store.base import JobQuery

    with _store(ctx) as store:
        if store is None:
            return []
        if incomplete:
            query, sort = JobQuery(job_id_prefix=incomplete.lower()), (("job_id", 1),)
        else:
            query, sort = JobQuery(), (("created_at", -1),)
        jobs = store.find_jobs(query, sort=sort, limit=MAX_ITEMS)
    return [(str(j["job_id"]), f"{j.get('job_type')} {j.get('status')}") for j in jobs]


@_quietly
def dataset_uuids(ctx: typer.Context, incomplete: str) -> Items:
    """Dataset uuids starting with what was typed (in uuid order), with their name and status."""
    with _store(ctx) as store:
        if store is None:
            return []
        docs = store.ledger.find_datasets_page(None, incomplete.lower() or None, MAX_ITEMS * 4)
    found = [d for d in docs if str(d.get("uuid", "")).startswith(incomplete.lower())]
    return [(str(d["uuid"]), f"{d.get('name') or ''} ({d.get('status')})") for d in found]


@_quietly
def schedule_names(ctx: typer.Context, incomplete: str) -> Items:
    """Schedule names (``sc schedule``), with their job type and cron."""
    with _store(ctx) as store:
        if store is None:
            return []
        docs = store.schedules.all()
    return [
        (str(d["name"]), f"{d.get('job_type')} {d.get('cron')}")
        for d in docs
        if str(d.get("name", "")).startswith(incomplete)
    ]


@_quietly
def signatures(ctx: typer.Context, incomplete: str) -> Items:
    """Failure signature ids of the last week, largest group first, with their text."""
    from datetime import timedelta

    from sccli.clock import utcnow
    from sccli.monitor.signatures import merge_groups

    with _store(ctx) as store:
        if store is None:
            return []
        groups = merge_groups(store.stats.failure_groups(utcnow() - timedelta(hours=SIGNATURE_HOURS)))
    return [(g["signature_id"], f"{g['count']}x {g['job_type']}: {g['signature']}") for g in groups
            if g["signature_id"].startswith(incomplete.lower())]
