"""The ``job_events`` records: one typed constructor instead of dicts built by hand.

Every record keeps the fields the portal reads, under their stored names: ``job_id``, ``entity``,
``from``, ``to``, ``at``, ``actor`` and ``reason`` (see the data contract). ``from`` and ``to``
are the states of the ``entity``: a :class:`~sccli.domain.JobStatus` for a job, a dataset
status for a dataset, ``active``/``paused`` for a job type's queue.

A purge is not a transition to a status: the job is deleted. Its record says so with
``action: "purged"`` and ``to: "purged"`` (:data:`PURGED`, the one ``to`` of a job event that is not a
``JobStatus``; kept for the readers that show ``from → to``). Entity-specific fields
(``dataset_uuid``, ``job_type``, ``refused``, ``event_id``) are added, never renamed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sccli.domain import JobStatus


class EventEntity(str, Enum):
    """What an event record is about."""

    JOB = "job"
    DATASET = "dataset"
    QUEUE = "queue"  # a job type's queue: paused or resumed


class EventAction(str, Enum):
    """What happened, when it is not a move between two states of the entity."""

    PURGED = "purged"  # the job was deleted (``sc queue purge``)


#: The ``to`` of a job's purge record (not a ``JobStatus``: the job no longer exists).
PURGED = EventAction.PURGED.value


def _state(value: str | Enum | None) -> str | None:
    return value.value if isinstance(value, Enum) else value


@dataclass(frozen=True)
class Event:
    """One ``job_events`` record; :meth:`doc` is what the store keeps."""

    entity: EventEntity
    job_id: str | None
    source: str | None  # stored as ``from``
    to: str
    at: Any
    actor: str
    reason: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    def doc(self) -> dict[str, Any]:
        """The record under its stored field names, entity-specific fields after them."""
        base = {"job_id": self.job_id, "entity": self.entity.value, "from": self.source, "to": self.to,
                "at": self.at, "actor": self.actor, "reason": self.reason}
        return {**base, **self.extra}


def job_event(job_id: str | None, source: JobStatus | str | None, to: JobStatus | str, *, at: Any, actor: str,
              reason: str, **extra: Any) -> dict[str, Any]:
    """A job's move from ``source`` (None: created) to ``to``; ``extra``: ``event_id``, ``refused``."""
    target = _state(to)
    assert target is not None
    return Event(EventEntity.JOB, job_id, _state(source), target, at, actor, reason, extra).doc()


def job_purged(job_id: str, source: JobStatus | str, *, at: Any, actor: str, reason: str) -> dict[str, Any]:
    """The record of a job deleted while it was ``source`` (see :data:`PURGED`)."""
    extra = {"action": EventAction.PURGED.value}
    return Event(EventEntity.JOB, job_id, _state(source), PURGED, at, actor, reason, extra).doc()


def dataset_event(dataset_uuid: str, source: str | None, to: str, *, job_id: str | None, at: Any, actor: str,
                  reason: str, **extra: Any) -> dict[str, Any]:
    """A dataset's status move (``refused=True`` when the move was not allowed and not made)."""
    fields = {"dataset_uuid": dataset_uuid, **extra}
    return Event(EventEntity.DATASET, job_id, source, to, at, actor, reason, fields).doc()


def queue_event(job_type: str, source: str, to: str, *, at: Any, actor: str, reason: str) -> dict[str, Any]:
    """A job type's queue paused (``active`` → ``paused``) or resumed."""
    return Event(EventEntity.QUEUE, None, source, to, at, actor, reason, {"job_type": job_type}).doc()
