"""Job ids as an administrator types them: the whole id, or a unique prefix of at least
:data:`MIN_PREFIX` characters (the dashboard and tables show the first 8).

One library call, :func:`resolve_job_id`, serves every command and route that takes a job id.
A prefix is looked up as a range on the unique ``job_id`` index, so it costs one index probe.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sccli.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from sccli.store.base import Store

#: The shortest prefix accepted (6 hex digits: 1 in 16 million).
MIN_PREFIX = 6
#: Candidates named when a prefix is ambiguous.
SHOWN_CANDIDATES = 8
#: Characters shown of an id in tables (``--wide`` shows them all).
SHORT_ID = 8


def short_id(job_id: str) -> str:
    """The first :data:`SHORT_ID` characters of an id (what tables and the dashboard show)."""
    return job_id[:SHORT_ID]


def resolve_job_id(store: Store, text: str) -> str:
    """The full id of the job ``text`` names: an id that exists, or the one id starting with it.

    Raises ``InvalidInput`` (exit 2) for text that cannot be an id and for an ambiguous prefix
    (naming the candidates); ``NotFound`` (exit 4) when no job matches, a prefix shorter than
    :data:`MIN_PREFIX` included (it is not looked up).
    """
    from sccli.store.base import JobQuery

    if not text or any(c.isspace() or not c.isprintable() for c in text):
        raise InvalidInput(f"job id {text[:60]!r} is not valid (spaces or control characters)")
    if store.get_job(text) is not None:  # an exact id, also one written by another program in any form
        return text
    if len(text) >= 36:
        raise NotFound(f"job {text[:80]} not found")
    if len(text) < MIN_PREFIX:
        raise NotFound(f"job {text!r} not found (too short for a prefix: give at least {MIN_PREFIX} characters)")
    query = JobQuery(job_id_prefix=text.lower())
    matches = [j["job_id"] for j in store.find_jobs(query, sort=(("job_id", 1),), limit=SHOWN_CANDIDATES + 1)]
    if not matches:
        raise NotFound(f"job {text!r} not found (no job id starts with it)")
    if len(matches) > 1:
        shown = ", ".join(matches[:SHOWN_CANDIDATES]) + (", ..." if len(matches) > SHOWN_CANDIDATES else "")
        raise InvalidInput(f"job id prefix {text!r} is ambiguous: {shown} (give more characters)")
    return matches[0]


def resolve_job_ids(store: Store, texts: list[str]) -> list[str]:
    """:func:`resolve_job_id` for each of ``texts``, in order, without repeats; a text that names
    no job stays as it is (a bulk action reports it as not found, beside the others)."""
    resolved = []
    for text in texts:
        try:
            resolved.append(resolve_job_id(store, text))
        except NotFound:
            resolved.append(text)
    return list(dict.fromkeys(resolved))


def job_detail(
    store: Store, job_id: str, stale_after_seconds: float, *, explain: bool = True, now: datetime | None = None,
) -> dict[str, Any]:
    """A job as every reader shows it (``sc job show``, the API, the dashboard, the compat
    monitor): the document with its ``events``, its ``dataset``, its wait and run times in
    seconds and, with ``explain``, the plain-words ``explanation`` of where it is.

    ``job_id`` may be a unique prefix; ``NotFound`` when no job matches.
    """
    from sccli.domain import JobStatus

    job_id = resolve_job_id(store, job_id)
    job = store.get_job(job_id)
    if job is None:  # deleted between the two reads
        raise NotFound(f"job {job_id} not found")
    created, started, ended = job.get("created_at"), job.get("started_at"), job.get("completed_at")
    running = job.get("status") == JobStatus.RUNNING
    detail = {
        **job,
        "events": store.find_events(job_id),
        "dataset": store.get_dataset(job["dataset_uuid"]) if job.get("dataset_uuid") else None,
        "wait_seconds": _seconds(created, started),
        "duration_seconds": _seconds(started, ended or ((now or store.now()) if running else None)),
    }
    if explain:
        detail["explanation"] = explanation(store, job, stale_after_seconds)
    return detail


def explanation(store: Store, job: dict[str, Any], stale_after_seconds: float) -> list[str]:
    """Why the job is where it is (:func:`sccli.explain.explain_job`); never an error: a legacy
    document missing a field must not turn a read of the job into a failure."""
    from sccli.explain import explain_job

    try:
        return explain_job(store, job, stale_after_seconds=stale_after_seconds)
    except (KeyError, TypeError, ValueError) as exc:
        return [f"no explanation available ({type(exc).__name__}: {exc})"]


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else round((end - start).total_seconds(), 3)
