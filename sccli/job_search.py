"""Finding jobs by what no index serves: their parameters, their dataset's owner and name.

One library call for the CLI (``sc job list --param/--user/--dataset-name``), the API
(``GET /api/v1/jobs``) and the dashboard's jobs page. The cost is bounded and said:

- ``user`` / ``dataset_name`` are resolved to dataset uuids by a scan of the datasets collection
  (the portal's ``visstoredatas`` has no index on them) that stops at ``DATASET_MATCH_LIMIT``
  matches; the jobs are then read through the ``dataset_uuid`` index (``$in``).
- ``params`` (``key=value``) are matched in Python over the newest ``PARAM_SCAN_LIMIT`` jobs that
  the indexed filters select; when more jobs than that match those filters, a notice says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from sccli.store.base import JobQuery

if TYPE_CHECKING:
    from sccli.store.base import Store

#: Jobs read (newest first) to match ``--param`` filters.
PARAM_SCAN_LIMIT = 5000
#: Datasets a ``--user``/``--dataset-name`` search resolves at most.
DATASET_MATCH_LIMIT = 1000


class ParamFilter(NamedTuple):
    """``key=value``: matches a job whose parameter ``key`` equals ``value`` (its JSON reading,
    e.g. ``3`` or ``true``) or reads as ``text`` (so ``sensor=4D`` matches the text "4D")."""

    key: str
    value: Any
    text: str

    def matches(self, parameters: Mapping[str, Any] | None) -> bool:
        if not parameters or self.key not in parameters:
            return False
        actual = parameters[self.key]
        return actual == self.value or str(actual) == self.text


class JobSearch(NamedTuple):
    """The filters of a job search; None and empty do not filter."""

    query: JobQuery = JobQuery()  # immutable: one default shared is safe
    params: Sequence[ParamFilter] = ()
    user: str | None = None
    dataset_name: str | None = None
    error_contains: str | None = None  # text in the job's error (any case): scanned like ``params``

    def matches(self, job: dict[str, Any]) -> bool:
        """Whether ``job`` passes the filters no index serves (``params``, ``error_contains``)."""
        if self.error_contains and self.error_contains.lower() not in str(job.get("error") or "").lower():
            return False
        return all(p.matches(job.get("parameters")) for p in self.params)


class SearchPage(NamedTuple):
    """One page of a search: ``total`` counts every match (of the scanned jobs, with ``params``);
    ``notices`` say where a bound was reached (for stderr, or the API's ``notices``)."""

    items: list[dict[str, Any]]
    total: int
    limit: int | None
    offset: int
    notices: list[str]


def search_jobs(
    store: Store, search: JobSearch, limit: int | None = 50, offset: int = 0, *, scan_limit: int = PARAM_SCAN_LIMIT,
) -> SearchPage:
    """Jobs matching ``search``, newest first, ``limit`` of them from ``offset``."""
    notices: list[str] = []
    query = _with_datasets(store, search, notices)
    if query is None:
        return SearchPage([], 0, limit, offset, notices)
    if not search.params and not search.error_contains:
        items = store.find_jobs(query, limit=limit, offset=offset)
        total = len(items) + offset if limit is None or len(items) < limit else store.count_jobs(query)
        return SearchPage(items, total, limit, offset, notices)
    scanned = store.find_jobs(query, limit=scan_limit)
    matches = [job for job in scanned if search.matches(job)]
    if len(scanned) >= scan_limit and (everything := store.count_jobs(query)) > scan_limit:
        notices.append(
            f"--param: searched the newest {scan_limit} of {everything} jobs (parameters and errors have no index); "
            "narrow it with --type, --status, --dataset or --user"
        )
    end = None if limit is None else offset + limit
    return SearchPage(matches[offset:end], len(matches), limit, offset, notices)


def _with_datasets(store: Store, search: JobSearch, notices: list[str]) -> JobQuery | None:
    """``search.query`` narrowed to the datasets of ``user``/``dataset_name``; None: no dataset matches."""
    if search.user is None and search.dataset_name is None:
        return search.query
    uuids = store.find_dataset_uuids(search.user, search.dataset_name, DATASET_MATCH_LIMIT + 1)
    if len(uuids) > DATASET_MATCH_LIMIT:
        uuids = uuids[:DATASET_MATCH_LIMIT]
        notices.append(f"--user/--dataset-name: more than {DATASET_MATCH_LIMIT} datasets match; only the jobs of "
                       f"{DATASET_MATCH_LIMIT} of them are searched (narrow the name)")
    wanted = [search.query.dataset_uuid] if search.query.dataset_uuid else None
    if wanted is not None:
        uuids = [u for u in uuids if u in wanted]
    if not uuids:
        return None
    return search.query._replace(dataset_uuid=None, dataset_uuids=uuids)


def parse_param_filter(text: str) -> ParamFilter:
    """``key=value`` → a filter (the value read as JSON when it is JSON, else as text)."""
    from sccli.errors import InvalidInput
    from sccli.limits import decode_json

    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise InvalidInput(f"--param needs key=value, got {text[:80]!r}")
    try:
        value = decode_json(raw, f"--param {key}") if raw.strip() else raw
    except InvalidInput:  # not JSON: the value is the text itself
        value = raw
    return ParamFilter(key, value, raw)
