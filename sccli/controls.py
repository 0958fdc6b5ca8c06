"""Fleet-wide type controls: ``max_running``, ``rate``, ``memory_limit_mb`` and overrides of a job
type's defaults.

They live in ``queue_controls`` (one ``limits:TYPE`` document per type, next to the pauses of
:mod:`sccli.pause`), so every service on every host reads them at each claim and honours a
change within one poll, without restart. Every change is recorded in ``job_events``
(``entity: "queue"``) with its actor and reason. The cap and the rate are enforced by
:mod:`sccli.gate`. ``memory_limit_mb`` is the memory limit of each job of the type (its whole
process tree), enforced by the service that runs it (:mod:`sccli.service.resources`); it comes
before the settings' ``memory_limit_mb_by_type`` and ``memory_limit_mb`` (:func:`memory_limit_mb`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from sccli import domain
from sccli.errors import InvalidInput
from sccli.store.base import Store

_PREFIX = "limits:"
_GATE_PREFIX = "gate:"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
#: The fields an operator sets with ``sc queue set`` (and clears with ``--clear FIELD``).
FIELDS = ("max_running", "rate", "priority", "timeout_minutes", "max_attempts", "memory_limit_mb")
#: Largest ``memory_limit_mb``, as in the settings.
MAX_MEMORY_MB = 1 << 30
#: Largest ``rate`` count: the gate keeps one start time per allowed start of the period.
MAX_RATE_COUNT = 10_000


class Rate:
    """At most ``count`` starts in any ``seconds``-long stretch, fleet-wide (immutable; a plain
    class: a NamedTuple's ``count`` would hide tuple.count, and dataclasses cost a read ~5 ms)."""

    __slots__ = ("count", "seconds")
    count: int
    seconds: float

    def __init__(self, count: int, seconds: float) -> None:
        object.__setattr__(self, "count", count)
        object.__setattr__(self, "seconds", seconds)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Rate is immutable: cannot set {name}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rate) and (self.count, self.seconds) == (other.count, other.seconds)

    def __hash__(self) -> int:
        return hash((self.count, self.seconds))

    def __repr__(self) -> str:
        return f"Rate(count={self.count!r}, seconds={self.seconds!r})"

    def __str__(self) -> str:
        for unit, size in sorted(_UNITS.items(), key=lambda u: -u[1]):
            if self.seconds % size == 0:
                n = int(self.seconds // size)
                return f"{self.count}/{'' if n == 1 else n}{unit}"
        return f"{self.count}/{self.seconds:g}s"


class TypeLimits(NamedTuple):
    """The controls of one job type (None: not set)."""

    job_type: str
    max_running: int | None = None
    rate: Rate | None = None
    priority: int | None = None
    timeout_minutes: int | None = None
    max_attempts: int | None = None
    memory_limit_mb: int | None = None

    @property
    def gated(self) -> bool:
        """Whether a claim of this type must pass the gate (a cap or a rate is set)."""
        return self.max_running is not None or self.rate is not None

    def as_row(self) -> dict[str, Any]:
        """A flat row for tables and JSON (rate as text, e.g. ``60/h``)."""
        return {
            "job_type": self.job_type,
            "max_running": self.max_running,
            "rate": str(self.rate) if self.rate else None,
            "priority": self.priority,
            "timeout_minutes": self.timeout_minutes,
            "max_attempts": self.max_attempts,
            "memory_limit_mb": self.memory_limit_mb,
        }


def parse_rate(text: str) -> Rate:
    """``60/h``, ``5/s``, ``100/10m`` → :class:`Rate`; InvalidInput otherwise."""
    match = _RATE.match(text or "")
    if not match:
        raise InvalidInput(f"rate {text!r} is not N/PERIOD (e.g. 60/h, 5/s, 100/10m)")
    count, size = int(match.group(1)), int(match.group(2) or 1)
    if not 1 <= count <= MAX_RATE_COUNT or size < 1:
        raise InvalidInput(
            f"rate {text!r}: N must be 1 to {MAX_RATE_COUNT} per a period of at least 1 {match.group(3)}"
        )
    return Rate(count, float(size * _UNITS[match.group(3)]))


def parse_minutes(text: str) -> int:
    """A timeout as whole minutes: ``30m``, ``2h``, ``1d``, or plain minutes (``45``)."""
    match = _DURATION.match(text or "")
    seconds = int(match.group(1)) * _UNITS[match.group(2) or "m"] if match else 0
    if not match or seconds % 60 or not 1 <= seconds // 60 <= 7 * 24 * 60:
        raise InvalidInput(f"timeout {text!r} must be whole minutes from 1m to 7d (e.g. 30m, 2h)")
    return seconds // 60


def type_limits(controls: Iterable[Mapping[str, Any]]) -> dict[str, TypeLimits]:
    """The limits per job type from the control documents (:meth:`Store.list_controls`)."""
    out = {}
    for doc in controls:
        if doc.get("kind") == "limits":
            rate = doc.get("rate")
            out[doc["job_type"]] = TypeLimits(
                doc["job_type"],
                doc.get("max_running"),
                Rate(int(rate["count"]), float(rate["seconds"])) if rate else None,
                doc.get("priority"),
                doc.get("timeout_minutes"),
                doc.get("max_attempts"),
                doc.get("memory_limit_mb"),
            )
    return out


def read_limits(store: Store) -> dict[str, TypeLimits]:
    """The limits of every job type that has some."""
    return type_limits(store.list_controls())


def check_change(changes: Mapping[str, Any]) -> None:
    """Refuse values out of range (InvalidInput) before anything is written."""
    bounds = {"max_running": 100_000, "timeout_minutes": 7 * 24 * 60, "max_attempts": 100,
              "memory_limit_mb": MAX_MEMORY_MB}
    for name, top in bounds.items():
        value = changes.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top):
            raise InvalidInput(f"{name} must be a whole number from 1 to {top}, got {value!r}")
    if changes.get("priority") is not None:
        try:
            domain.parse_priority(changes["priority"])
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise InvalidInput(f"unknown control(s): {', '.join(sorted(unknown))} (known: {', '.join(FIELDS)})")


def set_limits(
    store: Store, job_type: str, changes: Mapping[str, Any], clear: Iterable[str], actor: str, reason: str | None = None
) -> TypeLimits | None:
    """Set ``changes`` and clear the ``clear`` fields (``"all"``: every one) of ``job_type``'s
    limits; the event records old and new values. The limits now in force (None: none)."""
    check_change(changes)
    cleared = set(FIELDS) if "all" in clear else set(clear)
    if cleared - set(FIELDS):
        raise InvalidInput(f"cannot clear {', '.join(sorted(cleared - set(FIELDS)))} (known: {', '.join(FIELDS)}, all)")
    before = read_limits(store).get(job_type) or TypeLimits(job_type)
    values = {name: getattr(before, name) for name in TypeLimits._fields if name != "job_type"}
    values.update({name: None for name in cleared})
    values.update({k: (domain.parse_priority(v) if k == "priority" else v) for k, v in changes.items()})
    after = before._replace(**values)
    now = store.now()
    if after == TypeLimits(job_type):
        store.delete_control(_PREFIX + job_type)
    else:
        if after.gated:  # first: a service that sees the limit finds its gate (never two made at once)
            ensure_gate(store, job_type)
        rate = {"count": after.rate.count, "seconds": after.rate.seconds} if after.rate else None
        store.put_control(
            {
                **after.as_row(),
                "rate": rate,
                "name": _PREFIX + job_type,
                "kind": "limits",
                "actor": actor,
                "reason": reason,
                "at": now,
            }
        )
    store.insert_event(
        {
            "job_id": None,
            "entity": "queue",
            "job_type": job_type,
            "from": before.as_row(),
            "to": after.as_row(),
            "at": now,
            "actor": actor,
            "reason": reason or "limits changed",
        }
    )
    return None if after == TypeLimits(job_type) else after


def memory_limit_mb(job_type: str, limits: TypeLimits | None, settings: Any) -> int | None:
    """The memory limit (MB) of a job of ``job_type``: the fleet control (``sc queue set TYPE
    --memory-limit-mb``) > the settings' ``memory_limit_mb_by_type`` > their ``memory_limit_mb``;
    None: no limit. The fleet's value is an administrator's decision for every host, so it
    comes first, as the other controls do."""
    if limits is not None and limits.memory_limit_mb is not None:
        return limits.memory_limit_mb
    mb: int | None = settings.memory_limit_mb_of(job_type)
    return mb


def effective_defaults(
    job_type: str, limits: TypeLimits | None, declared: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A new job's ``priority``, ``timeout_minutes`` and ``max_attempts`` when it gives none:
    the control's override > the plugin's declared default > the type table."""
    config = domain.job_type_config(job_type)
    out: dict[str, Any] = {
        "priority": config.priority,
        "timeout_minutes": config.timeout_minutes,
        "max_attempts": config.max_attempts,
    }
    for name in out:
        if declared and declared.get(name) is not None:
            out[name] = declared[name]
        if limits is not None and getattr(limits, name) is not None:
            out[name] = getattr(limits, name)
    return out


def type_defaults(job_type: str, limits: TypeLimits | None, settings: Any = None) -> dict[str, Any]:
    """:func:`effective_defaults` with the plugin's ``DEFAULTS`` read from its handler module
    (``settings``: the :class:`~sccli.settings.Settings` naming the plugins; None: no plugin's)."""
    declared = None
    if settings is not None and not domain.is_builtin_type(job_type):
        from sccli.handlers import plugin_defaults

        declared = plugin_defaults(job_type, settings)
    return effective_defaults(job_type, limits, declared)


def gate_document(job_type: str) -> dict[str, Any]:
    """The empty gate document of ``job_type`` (:mod:`sccli.gate` keeps its slots in it)."""
    return {"name": _GATE_PREFIX + job_type, "kind": "gate", "job_type": job_type, "version": 0, "holders": [],
            "starts": []}


def ensure_gate(store: Store, job_type: str) -> None:
    """Create the type's gate document unless it exists (with its limits: a service that sees
    the limit finds its gate)."""
    store.swap_control(gate_document(job_type), None)
