"""MongoDB side of the day tallies (:class:`~sccli.store.contract_tallies.TallyContract`).

``store.tallies`` of :class:`~sccli.store.mongo.MongoStore`: rows of finished jobs from the
``completed_at`` index, one document per UTC day in ``job_tallies`` (``_id``: the day number).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sccli import figures as fig
from sccli.clock import to_epoch
from sccli.domain import JobStatus
from sccli.store.contract_tallies import TallyContract
from sccli.store.mongo_support import guard, normalize

_ROW_FIELDS = {"_id": 0, "job_type": 1, "status": 1, "completed_at": 1, "started_at": 1, "attempts": 1}
_COMPLETED = JobStatus.COMPLETED.value


class MongoTallies(TallyContract):
    """Day tallies on MongoDB, handed the store's collection getter, clock and display URL."""

    def __init__(self, coll: Callable[[str], Any], now: Callable[[], datetime], display_url: str) -> None:
        self.coll = coll
        self.now = now
        self.display_url = display_url  # named in guard's StoreUnavailable message

    @guard
    def finished_figures(self, since: datetime, until: datetime) -> dict[int, fig.Figures]:
        # Folded here from the projected rows: the day and bucket arithmetic stays the same
        # on every server (mongomock and the wire test server lack some date operators).
        rows = []
        for doc in self.coll("jobs").find({"completed_at": {"$gte": since, "$lt": until}}, _ROW_FIELDS):
            completed = to_epoch(normalize(doc["completed_at"]))
            started = to_epoch(normalize(doc.get("started_at")))
            status = str(doc.get("status"))
            duration = completed - started if status == _COMPLETED and started is not None else None
            rows.append(
                (str(doc.get("job_type")), status, completed, max(int(doc.get("attempts") or 0) - 1, 0), duration)
            )
        return fig.fold(rows, self._timeouts(since, until))

    def _timeouts(self, since: datetime, until: datetime) -> list[tuple[str, float, int]]:
        n = {"$size": {"$filter": {"input": {"$ifNull": ["$errors", []]}, "cond": {"$eq": ["$$this.kind", "timeout"]}}}}
        pipeline = [
            {"$match": {"completed_at": {"$gte": since, "$lt": until}}},
            {"$project": {"_id": 0, "job_type": 1, "completed_at": 1, "n": n}},
            {"$match": {"n": {"$gt": 0}}},
        ]
        return [
            (str(d["job_type"]), to_epoch(normalize(d["completed_at"])), int(d["n"]))
            for d in self.coll("jobs").aggregate(pipeline)
        ]

    @guard
    def first_completed_at(self) -> datetime | None:
        docs = list(
            self.coll("jobs")
            .find({"completed_at": {"$ne": None}}, {"_id": 0, "completed_at": 1})
            .sort([("completed_at", 1)])
            .limit(1)
        )
        return normalize(docs[0]["completed_at"]) if docs else None

    @guard
    def open_status_type_counts(self, ended: Sequence[str]) -> list[dict[str, Any]]:
        open_ = [s.value for s in JobStatus if s.value not in ended]
        group = {"$group": {"_id": {"status": "$status", "job_type": "$job_type"}, "n": {"$sum": 1}}}
        out = []
        for match in ({"status": {"$in": open_}}, {"status": {"$in": list(ended)}, "completed_at": None}):
            for doc in self.coll("jobs").aggregate([{"$match": match}, group]):
                out.append(
                    {"status": doc["_id"]["status"], "job_type": doc["_id"].get("job_type"), "count": int(doc["n"])}
                )
        return out

    @guard
    def tally_days(self, days: Sequence[int], hist: bool = True) -> dict[int, dict[str, Any]]:
        fields = None if hist else {"hist": 0}
        out: dict[int, dict[str, Any]] = {}
        for doc in self.coll("tallies").find({"_id": {"$in": [int(d) for d in days]}}, fields):
            figures = doc.get("counts")
            if figures is not None:
                hists = doc.get("hist") or {}
                figures = {t: {**f, "hist": dict(hists.get(t) or {})} for t, f in figures.items()}
            out[int(doc["_id"])] = {
                "version": int(doc.get("version") or 0), "hold_until": doc.get("hold_until"), "figures": figures,
            }
        return out

    @guard
    def save_tally_day(self, day: int, version: int, figures: dict[str, Any]) -> bool:
        from pymongo.errors import DuplicateKeyError

        counts = {t: {k: v for k, v in f.items() if k != "hist"} for t, f in figures.items()}
        hists = {t: f.get("hist") or {} for t, f in figures.items()}
        now = to_epoch(self.now())
        if version == 0:
            try:
                self.coll("tallies").insert_one(
                    {"_id": int(day), "version": 0, "hold_until": None, "counts": counts, "hist": hists}
                )
                return True
            except DuplicateKeyError:
                return False
        filt = {"_id": int(day), "version": version, "$or": [{"hold_until": None}, {"hold_until": {"$lte": now}}]}
        return bool(self.coll("tallies").update_one(filt, {"$set": {"counts": counts, "hist": hists}}).modified_count)

    @guard
    def bump_tally_days(self, days: Sequence[int], hold_until: float | None = None) -> None:
        for day in days:
            self.coll("tallies").update_one(
                {"_id": int(day)},
                {"$inc": {"version": 1}, "$set": {"hold_until": hold_until, "counts": None, "hist": None}}, upsert=True,
            )
