"""The store's shape: callers ask for capabilities, never for the backend's kind, and the parts
the store owns are composed objects (no mixin reaching into the host with ``type: ignore``)."""

from __future__ import annotations

import ast
from pathlib import Path

import sccli
from sccli.store.mongo import MongoStore
from sccli.store.sqlite import SqliteStore

ROOT = Path(sccli.__file__).parent
BACKENDS = {"mongo", "sqlite"}
PART_MODULES = [f"{backend}_{part}.py" for backend in BACKENDS for part in ("ledger", "stats", "tallies")]


def kind_tests(tree: ast.AST) -> list[int]:
    """Lines comparing some ``<x>.kind`` with a backend name ("mongo", "sqlite")."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            on_kind = any(isinstance(side, ast.Attribute) and side.attr == "kind" for side in sides)
            names = {side.value for side in sides if isinstance(side, ast.Constant)}
            if on_kind and names & BACKENDS:
                lines.append(node.lineno)
    return lines


def test_no_backend_kind_test_outside_the_store() -> None:
    found = {
        str(path.relative_to(ROOT)): lines
        for path in sorted(ROOT.rglob("*.py"))
        if "store" not in path.relative_to(ROOT).parts[:1] and (lines := kind_tests(ast.parse(path.read_text())))
    }
    assert found == {}, "ask the store (tune_for_service, shared_clock, missing_file...), not its kind"


def test_kind_tests_are_found() -> None:  # the check above can fail
    assert kind_tests(ast.parse('if store.kind == "mongo" or "sqlite" != self.store.kind: pass')) == [1, 1]


def test_parts_are_composed_not_mixed_in() -> None:
    for store_class in (SqliteStore, MongoStore):
        parts = ("_ledger", "_stats", "_tallies")
        mixed = [base.__name__ for base in store_class.__mro__ if base.__module__.endswith(parts)]
        assert mixed == [], store_class
    ignores = {name: (ROOT / "store" / name).read_text().count("type: ignore[attr-defined]") for name in PART_MODULES}
    assert ignores == {name: 0 for name in PART_MODULES}


def test_no_backend_name_compared_and_no_click_outside_the_store() -> None:
    """Also ``getattr(store, "kind") != "mongo"``: code asks the store for a capability; and the CLI
    uses Typer's names, never click's directly."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "sccli"
    compared = re.compile(r"""(==|!=)\s*["'](mongo|sqlite)["']|["'](mongo|sqlite)["']\s*(==|!=)""")
    offenders = []
    for path in root.rglob("*.py"):
        text = path.read_text()
        if "store" not in path.relative_to(root).parts[:1] and compared.search(text):
            offenders.append(str(path))
        if re.search(r"^\s*(import click|from click)", text, re.M):
            offenders.append(f"{path} imports click")
    assert offenders == []
