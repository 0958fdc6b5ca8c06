"""Whether an existing MongoDB index can stand in for one the store needs.

An index with the same key pattern is adopted (whatever its name: the portal's ``uuid_1``)
only when its options are what the store relies on: ``unique`` where duplicates must be
refused, sparse (or an equivalent ``$exists`` partial filter) where documents lacking the field
must not collide, and no filter where every document must be found. Anything else is a
:class:`IndexMismatch`, reported with the command that replaces it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

#: Indexes an older sccli created under these names with other options: replaced in place.
OWN_OLD_NAMES = {"event_id_unique": "event_id"}


@dataclass(frozen=True)
class IndexMismatch:
    """An existing index on the keys of a needed one, with options the store cannot rely on."""

    collection: str
    existing: str
    wanted: str
    fields: tuple[str, ...]
    options: dict[str, Any] = field(hash=False)
    why: str = ""

    def detail(self) -> str:
        return f"{self.collection}: index {self.existing} on {list(self.fields)} {self.why}"

    def fix(self, db_name: str) -> str:
        """The mongosh command that drops the index and creates the one the store needs."""
        coll = f'db.getSiblingDB("{db_name}").getCollection("{self.collection}")'
        keys, options = json.dumps(dict.fromkeys(self.fields, 1)), json.dumps({"name": self.wanted, **self.options})
        script = f'{coll}.dropIndex("{self.existing}"); {coll}.createIndex({keys}, {options})'
        return f"mongosh \"$MONGO_URL\" --eval '{script}'"


def options_problem(info: dict[str, Any], fields: list[str], options: dict[str, Any]) -> str | None:
    """Why the index described by ``info`` cannot serve as one with ``options``; None if it can."""
    want_unique, have_unique = bool(options.get("unique")), bool(info.get("unique"))
    partial = info.get("partialFilterExpression")
    filtered = bool(info.get("sparse")) or partial is not None
    if want_unique and not have_unique:
        return "is not unique: the store relies on it to refuse duplicates"
    if have_unique and not want_unique:
        return "is unique: it would refuse documents the store must accept"
    if options.get("sparse"):
        if partial is not None and partial != {fields[0]: {"$exists": True}}:
            return f"has the partial filter {partial}: it leaves out documents the store reads"
        if want_unique and not filtered:
            return "is not sparse: every document without the field would collide"
        return None
    if filtered:
        return "is sparse or partial: it cannot find every document the store reads"
    return None


def audit(
    infos: dict[str, dict[str, Any]], collection: str, specs: list[tuple[str, list[str], dict[str, Any]]],
) -> tuple[list[tuple[str, list[str], dict[str, Any]]], list[IndexMismatch]]:
    """The needed indexes (``specs``) no existing index can serve, and the mismatches among them."""
    missing, mismatches = [], []
    for name, fields, options in specs:
        same = {n: i for n, i in infos.items() if tuple(str(f) for f, _ in i.get("key", [])) == tuple(fields)}
        problems = {n: options_problem(i, fields, options) for n, i in same.items()}
        if same and None in problems.values():
            continue  # adopted
        missing.append((name, fields, options))
        for existing, why in sorted(problems.items()):
            mismatches.append(IndexMismatch(collection, existing, name, tuple(fields), dict(options), why or ""))
    return missing, mismatches
