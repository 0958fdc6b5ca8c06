"""MongoDB side of the monitoring queries: aggregation pipelines, each opening with an
index-backed ``$match`` (checked by :func:`leading_index` in tests and ``bench/monitor.py``).

``store.stats`` of :class:`~sccli.store.mongo.MongoStore` (the contract is
:class:`~sccli.store.contract_monitor.MonitorContract`). The pipelines keep to operators that mongomock
4.3 and the wire test server both run: no ``$round``, no ``$$REMOVE``, no ``$add`` on dates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sccli.domain import JOB_STATUS_VALUES, JobStatus
from sccli.store.contract_monitor import MonitorContract
from sccli.store.mongo_support import guard, normalize
from sccli.store.sqlite_stats import nearest_rank

STATUSES = list(JOB_STATUS_VALUES)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NEVER_MINUTES = 10**9


def _count_if(condition: dict[str, Any]) -> dict[str, Any]:
    return {"$sum": {"$cond": [condition, 1, 0]}}


def _is(status: str) -> dict[str, Any]:
    return _count_if({"$eq": ["$status", status]})


# -- pipelines (module functions so tests and the benchmark can inspect them) ----------------
def status_type_pipeline() -> list[dict[str, Any]]:
    # status $in every status lets the (status, job_type) index cover the whole count.
    return [
        {"$match": {"status": {"$in": STATUSES}}},
        {"$group": {"_id": {"status": "$status", "job_type": "$job_type"}, "n": {"$sum": 1}}},
    ]


def activity_pipeline(since: datetime) -> list[dict[str, Any]]:
    return [
        {"$match": {"status": {"$in": STATUSES}, "updated_at": {"$gte": since}}},
        {"$group": {"_id": "$status", "n": {"$sum": 1}}},
    ]


def finished_pipeline(since: datetime, until: datetime) -> list[dict[str, Any]]:
    completed = {
        "$and": [{"$eq": ["$status", JobStatus.COMPLETED.value]}, {"$ne": [{"$ifNull": ["$started_at", None]}, None]}]
    }
    timeouts = {
        "$size": {"$filter": {"input": {"$ifNull": ["$errors", []]}, "cond": {"$eq": ["$$this.kind", "timeout"]}}}
    }
    return [
        {"$match": {"completed_at": {"$gte": since, "$lt": until}}},
        {
            "$project": {
                "job_type": 1, "status": 1, "retries": {"$max": [{"$subtract": [{"$ifNull": ["$attempts", 0]}, 1]}, 0]},
                "timeouts": timeouts,
                "d": {"$cond": [completed, {"$divide": [{"$subtract": ["$completed_at", "$started_at"]}, 1000]}, None]},
            }
        },
        {
            "$group": {
                "_id": "$job_type", "count": {"$sum": 1}, "completed": _is(JobStatus.COMPLETED.value),
                "failed": _is(JobStatus.FAILED.value), "cancelled": _is(JobStatus.CANCELLED.value),
                "retries": {"$sum": "$retries"}, "timeouts": {"$sum": "$timeouts"}, "avg_duration": {"$avg": "$d"},
                "min_duration": {"$min": "$d"}, "max_duration": {"$max": "$d"},
                "n_durations": _count_if({"$ne": ["$d", None]}),
            }
        },
        {"$sort": {"_id": 1}},
    ]


#: Example job ids kept per failure group (the group's count is exact).
EXAMPLE_IDS = 100


def _durations(since: datetime, until: datetime, job_type: str | None = None) -> list[dict[str, Any]]:
    match: dict[str, Any] = {
        "status": JobStatus.COMPLETED.value, "completed_at": {"$gte": since, "$lt": until}, "started_at": {"$ne": None},
    }
    if job_type is not None:
        match["job_type"] = job_type
    return [
        {"$match": match},
        {"$project": {"job_type": 1, "d": {"$divide": [{"$subtract": ["$completed_at", "$started_at"]}, 1000]}}},
    ]


def rank_pipeline(since: datetime, until: datetime, job_type: str, rank: int, descending: bool) -> list[dict[str, Any]]:
    """The duration at 1-based ``rank`` of one type (counted from the top when ``descending``):
    a top-k sort holding at most ``rank`` small documents, spilled to disk if need be."""
    return [
        *_durations(since, until, job_type), {"$sort": {"d": -1 if descending else 1}}, {"$skip": rank - 1},
        {"$limit": 1},
    ]


def daily_pipeline(since: datetime, until: datetime) -> list[dict[str, Any]]:
    return [
        {"$match": {"completed_at": {"$gte": since, "$lt": until}}},
        {
            "$group": {
                "_id": {"$dateToString": {"format": "%Y-%m-%d", "date": "$completed_at"}},
                "completed": _is(JobStatus.COMPLETED.value), "failed": _is(JobStatus.FAILED.value),
                "cancelled": _is(JobStatus.CANCELLED.value),
            }
        },
        {"$sort": {"_id": 1}},
    ]


def failed_jobs_pipeline(since: datetime, limit: int, datasets: str) -> list[dict[str, Any]]:
    return [
        {"$match": {"status": JobStatus.FAILED.value, "completed_at": {"$gte": since}}},
        {"$sort": {"completed_at": -1}},
        {"$limit": int(limit)},
        {
            "$lookup": {
                "from": datasets, "localField": "dataset_uuid", "foreignField": "uuid", "as": "_datasets",
                "pipeline": [{"$project": {"_id": 0, "name": 1, "user": 1, "status": 1, "sensor": 1}}, {"$limit": 1}],
            }
        },
        {"$addFields": {"retry_available": {"$lt": ["$attempts", "$max_attempts"]}}},
    ]


def failure_groups_pipeline(since: datetime) -> list[dict[str, Any]]:
    return [
        {"$match": {"status": JobStatus.FAILED.value, "completed_at": {"$gte": since}}},
        {
            "$group": {
                "_id": {"job_type": "$job_type", "error": "$error"}, "count": {"$sum": 1},
                "first_seen": {"$min": "$completed_at"}, "last_seen": {"$max": "$completed_at"},
                "retry_available": _count_if({"$lt": ["$attempts", "$max_attempts"]}), "job_ids": {"$push": "$job_id"},
            }
        },
        {"$sort": {"count": -1}},
        {
            "$project": {
                "count": 1, "first_seen": 1, "last_seen": 1, "retry_available": 1,
                "job_ids": {"$slice": ["$job_ids", EXAMPLE_IDS]},
            }
        },
    ]


def capped_failure_groups_pipeline(since: datetime) -> list[dict[str, Any]]:
    """The same groups with ``$firstN`` (MongoDB 5.2+): example ids capped while grouping."""
    pipeline = failure_groups_pipeline(since)
    pipeline[1]["$group"]["job_ids"] = {"$firstN": {"input": "$job_id", "n": EXAMPLE_IDS}}
    return pipeline[:-1]


def stale_pipeline(now: datetime, cutoff: datetime, alive_workers: Sequence[str]) -> list[dict[str, Any]]:
    silent = {"$lt": [{"$ifNull": ["$heartbeat_at", _EPOCH]}, cutoff]}
    over = {
        "$gt": [
            {"$subtract": [now, {"$ifNull": ["$started_at", now]}]},
            {"$multiply": [{"$ifNull": ["$timeout_minutes", _NEVER_MINUTES]}, 60000]},
        ]
    }
    reason = {"$cond": [
        {"$in": [{"$ifNull": ["$worker_id", ""]}, list(alive_workers)]},
        {"$cond": [silent, "job_silent", {"$cond": [over, "over_timeout", None]}]},
        "service_dead",
    ]}
    return [
        {"$match": {"status": JobStatus.RUNNING.value}},
        {"$addFields": {"stale_reason": reason}},
        {"$match": {"stale_reason": {"$ne": None}}},
        {"$sort": {"heartbeat_at": 1}},
    ]


def backlog_pipeline(now: datetime) -> list[dict[str, Any]]:
    return [
        {"$match": {"status": JobStatus.PENDING.value}},
        {
            "$group": {
                "_id": "$job_type", "pending": {"$sum": 1}, "ready": _count_if({"$lte": ["$run_after", now]}),
                "oldest": {"$min": "$created_at"},
            }
        },
        {"$sort": {"_id": 1}},
    ]


def leading_index(pipeline: Sequence[dict[str, Any]], indexes: dict[str, Any]) -> str | None:
    """The index whose leading keys the pipeline's opening ``$match`` constrains longest, or None.

    ``indexes`` is ``index_information()`` of the collection. Used where ``explain`` is not
    available (mongomock and the wire test server do not implement it).
    """
    if not pipeline or "$match" not in pipeline[0]:
        return None
    fields = set(pipeline[0]["$match"])
    best, best_len = None, 0
    for name, info in sorted(indexes.items()):
        keys = [k for k, _ in info["key"]]
        prefix = next((i for i, k in enumerate(keys) if k not in fields), len(keys))
        if name != "_id_" and prefix > best_len:
            best, best_len = str(name), prefix
    return best


class MongoStats(MonitorContract):
    """Monitoring queries on MongoDB, handed the store's collection getter, names and display URL."""

    def __init__(self, coll: Callable[[str], Any], names: dict[str, str], display_url: str, url: str | None) -> None:
        self.coll = coll
        self.names = names
        self.display_url = display_url  # named in guard's StoreUnavailable message
        self.url = url  # where figures may be read (figures_read_preference)
        self._lookup_pipeline = True  # False once the server refused the $lookup pipeline form
        self._has_first_n = True  # False once the server refused $firstN

    def figures_coll(self, key: str) -> Any:
        """For figures only (monitor, report, dashboard, API): see :func:`figures_read_preference`."""
        from sccli.store.mongo_support import figures_read_preference

        return self.coll(key).with_options(read_preference=figures_read_preference(self.url))

    def _aggregate(self, key: str, pipeline: list[dict[str, Any]], documents: bool = False) -> list[dict[str, Any]]:
        """Run a pipeline; group keys (``_id``) are kept unless the results are ``documents``."""
        rows = self.figures_coll(key).aggregate(pipeline, allowDiskUse=True)
        return [normalize(doc) if documents else {**normalize(doc), "_id": normalize(doc.get("_id"))} for doc in rows]

    def monitor_pipelines(self, now: datetime) -> dict[str, tuple[str, list[dict[str, Any]]]]:
        """Every monitoring pipeline with sample arguments, by name: (collection key, pipeline)."""
        from datetime import timedelta

        day = now - timedelta(days=1)
        return {
            "status_type": ("jobs", status_type_pipeline()),
            "activity": ("jobs", activity_pipeline(day)),
            "finished": ("jobs", finished_pipeline(day, now)),
            "percentiles": ("jobs", rank_pipeline(day, now, "dataset_conversion", 1, False)),
            "daily": ("jobs", daily_pipeline(day, now)),
            "failed_jobs": ("jobs", failed_jobs_pipeline(day, 1000, self.names["datasets"])),
            "failure_groups": ("jobs", failure_groups_pipeline(day)),
            "stale": ("jobs", stale_pipeline(now, now, [])),
            "backlog": ("jobs", backlog_pipeline(now)),
        }

    @guard
    def job_status_type_counts(self) -> list[dict[str, Any]]:
        rows = self._aggregate("jobs", status_type_pipeline())
        return [
            {"status": r["_id"]["status"], "job_type": r["_id"].get("job_type"), "count": int(r["n"])} for r in rows
        ]

    @guard
    def activity_counts(self, since: datetime) -> dict[str, int]:
        return {str(r["_id"]): int(r["n"]) for r in self._aggregate("jobs", activity_pipeline(since))}

    @guard
    def finished_job_stats(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        rows = self._aggregate("jobs", finished_pipeline(since, until))
        percentiles = self._percentiles(since, until, {r["_id"]: int(r.get("n_durations") or 0) for r in rows})
        out = []
        for row in rows:
            pct = percentiles.get(row["_id"], {})
            out.append(
                {
                    "job_type": row["_id"],
                    **{k: int(row[k]) for k in ("count", "completed", "failed", "cancelled", "retries", "timeouts")},
                    **{k: _number(row.get(k)) for k in ("avg_duration", "min_duration", "max_duration")},
                    "p50_duration": _number(pct.get("p50")), "p95_duration": _number(pct.get("p95")),
                }
            )
        return out

    def _percentiles(self, since: datetime, until: datetime, counts: dict[str, int]) -> dict[str, dict[str, Any]]:
        """p50/p95 per type by nearest rank, each from a bounded top-k sort (never one array of
        every duration). Not ``$percentile``: it is approximate (t-digest) on MongoDB 7, and the
        report's percentiles are defined as nearest rank on every backend."""
        out: dict[str, dict[str, Any]] = {}
        for job_type, n in counts.items():
            if n:
                out[job_type] = {
                    name: self._duration_at(since, until, job_type, n, p) for name, p in (("p50", 50), ("p95", 95))
                }
        return out

    def _duration_at(self, since: datetime, until: datetime, job_type: str, n: int, p: int) -> Any:
        rank = nearest_rank(p, n) + 1
        descending = rank > n // 2  # fewer documents to hold from the nearer end
        rows = self._aggregate(
            "jobs", rank_pipeline(since, until, job_type, n - rank + 1 if descending else rank, descending),
            documents=True,
        )
        return rows[0]["d"] if rows else None

    @guard
    def finished_job_daily(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        rows = self._aggregate("jobs", daily_pipeline(since, until))
        return [
            {
                "day": r["_id"], "completed": int(r["completed"]), "failed": int(r["failed"]),
                "cancelled": int(r["cancelled"]),
            }
            for r in rows
        ]

    @guard
    def failed_jobs_since(self, since: datetime, limit: int = 1000) -> list[dict[str, Any]]:
        pipeline = failed_jobs_pipeline(since, limit, self.names["datasets"])
        try:
            rows = self._aggregate("jobs", pipeline, documents=True) if self._lookup_pipeline else None
        except NotImplementedError:  # mongomock: $lookup without a sub-pipeline, whole documents joined
            rows = None
            self._lookup_pipeline = False
        if rows is None:
            del pipeline[3]["$lookup"]["pipeline"]
            rows = self._aggregate("jobs", pipeline, documents=True)
        out = []
        for job in rows:
            found = job.pop("_datasets", None) or []
            ds = found[0] if found else None
            job["retry_available"] = bool(job.get("retry_available"))
            job["dataset"] = None if ds is None else {k: ds.get(k) for k in ("name", "user", "status", "sensor")}
            out.append(job)
        return out

    @guard
    def failure_groups(self, since: datetime) -> list[dict[str, Any]]:
        if self._has_first_n:
            from pymongo.errors import OperationFailure

            try:
                return self._failure_groups(capped_failure_groups_pipeline(since))
            except (OperationFailure, NotImplementedError, KeyError, TypeError):
                self._has_first_n = False
        return self._failure_groups(failure_groups_pipeline(since))

    def _failure_groups(self, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {
                "job_type": r["_id"].get("job_type"),
                "error": r["_id"].get("error"),
                "count": int(r["count"]),
                "first_seen": r["first_seen"],
                "last_seen": r["last_seen"],
                "retry_available": int(r["retry_available"]),
                "job_ids": list(r["job_ids"]),
            }
            for r in self._aggregate("jobs", pipeline)
        ]

    @guard
    def stale_running_jobs(self, now: datetime, cutoff: datetime) -> list[dict[str, Any]]:
        alive_filter = {"heartbeat_at": {"$gte": cutoff}, "status": {"$ne": "stopped"}}
        alive = [w["worker_id"] for w in self.coll("workers").find(alive_filter, {"worker_id": 1})]
        return self._aggregate("jobs", stale_pipeline(now, cutoff, alive), documents=True)

    @guard
    def pending_backlog(self, now: datetime) -> list[dict[str, Any]]:
        return [
            {
                "job_type": r["_id"], "pending": int(r["pending"]), "ready": int(r["ready"]),
                "oldest_created_at": r["oldest"],
            }
            for r in self._aggregate("jobs", backlog_pipeline(now))
        ]

    @guard
    def finished_job_ids(self, status: str, before: datetime, limit: int) -> list[str]:
        cursor = (
            self.coll("jobs")
            .find({"status": status, "completed_at": {"$lt": before}}, {"job_id": 1})
            .sort([("completed_at", 1)])
            .limit(int(limit))
        )
        return [d["job_id"] for d in cursor]


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
