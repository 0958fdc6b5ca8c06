"""How the layers above the store say what they read and write: :class:`JobQuery` (a filter on
jobs), :class:`ClaimFilter` (what a claim may take) and :class:`JobChange` (an update). Each
backend translates them natively (SQL on SQLite, query documents and update operators on MongoDB);
:mod:`sccli.store.base` re-exports them with the contract they belong to."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

#: At most this many entries are kept in a job's ``logs`` list.
LOGS_CAP = 100


class JobQuery(NamedTuple):
    """A backend-neutral filter on jobs; fields left None do not filter (``_replace`` makes a changed
    copy). NamedTuples and a plain class here, not dataclasses: importing dataclasses costs a read
    command ~5 ms."""

    status: Sequence[str] | None = None
    job_type: Sequence[str] | None = None
    dataset_uuid: str | None = None
    dataset_uuids: Sequence[str] | None = None
    job_ids: Sequence[str] | None = None
    worker_id: str | None = None
    parent_job_id: str | None = None
    migration_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_before: datetime | None = None
    completed_after: datetime | None = None
    completed_before: datetime | None = None
    heartbeat_before: datetime | None = None
    run_after_before: datetime | None = None
    cancel_requested: bool | None = None
    priorities: Sequence[int] | None = None
    outbox_before: datetime | None = None
    job_id_prefix: str | None = None  # ids starting with this (a range on the unique job_id index)


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string above every string that starts with ``prefix`` (``prefix`` not empty)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class ClaimFilter(NamedTuple):
    """Narrows a claim (fair sharing between users): only jobs of ``priority``, and none of the
    ``skip_users``' jobs (the dataset owner copied onto the job as ``user``; jobs without one
    are never skipped)."""

    priority: int | None = None
    skip_users: tuple[str, ...] = ()


class JobChange:
    """An update: fields to set, to remove, to increment and list items to append (mutable: the
    lifecycle fills one in as it goes)."""

    __slots__ = ("set", "unset", "inc", "push", "pull")

    def __init__(
        self,
        set: dict[str, Any] | None = None,  # noqa: A002 -- the update operator's name ($set)
        unset: Sequence[str] = (),
        inc: dict[str, int] | None = None,
        push: dict[str, Any] | None = None,
        pull: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.set: dict[str, Any] = {} if set is None else set
        self.unset: Sequence[str] = unset
        self.inc: dict[str, int] = {} if inc is None else inc
        self.push: dict[str, Any] = {} if push is None else push
        #: list field → ``{key: value}``: remove the items whose ``key`` equals ``value``.
        self.pull: dict[str, dict[str, Any]] = {} if pull is None else pull

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JobChange):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass was

    def __repr__(self) -> str:
        return "JobChange(" + ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__) + ")"

    def apply(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Return ``doc`` with this change applied (used by non-native backends).

        The top level is copied, nested values are shared: backends call this on documents
        they have just decoded, so nothing else holds them.
        """
        out = dict(doc)
        out.update(self.set)
        for key in self.unset:
            out.pop(key, None)
        for key, amount in self.inc.items():
            out[key] = (out.get(key) or 0) + amount
        for key, item in self.push.items():
            items = [*(out.get(key) or []), item]
            out[key] = items[-LOGS_CAP:] if key == "logs" else items
        for key, where in self.pull.items():
            out[key] = [item for item in out.get(key) or [] if not all(item.get(k) == v for k, v in where.items())]
        return out
