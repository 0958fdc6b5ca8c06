"""The import graph keeps one direction: the claim's modules (the queue, its claim policy, the
gate, the fair share, the pauses, the controls, the claim's write) import each other in no circle
at run time. A function-level import counts (it runs); one under ``if TYPE_CHECKING:`` does not."""

from __future__ import annotations

import ast
from pathlib import Path

import sccli

ROOT = Path(sccli.__file__).parent
#: The claim's modules: the queue holds the policy, the policy the gate and the fair share.
CLAIM_MODULES = {
    "sccli.queue", "sccli.claim_policy", "sccli.claiming", "sccli.gate", "sccli.fairness", "sccli.pause",
    "sccli.controls",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def runtime_imports(tree: ast.AST, module: str, known: set[str], *, type_only: bool = False) -> set[str]:
    """The ``known`` modules ``module``'s code imports when it runs (not under TYPE_CHECKING, unless
    ``type_only``)."""
    found: set[str] = set()

    def resolve(name: str) -> None:
        while name and name not in known:  # ``from sccli.x import y``: y may be a name, not a module
            name = name.rpartition(".")[0]
        if name and name != module:
            found.add(name)

    def visit(node: ast.AST) -> None:
        if _type_checking_block(node) and not type_only:
            for child in getattr(node, "orelse", []):
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                resolve(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                resolve(f"{node.module}.{alias.name}")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    """Every ``sccli`` module and the ``sccli`` modules it imports at run time."""
    paths = {_module_name(p): p for p in ROOT.rglob("*.py")}
    known = set(paths)
    return {name: runtime_imports(ast.parse(path.read_text()), name, known) for name, path in paths.items()}


def circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(group)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def test_the_claims_modules_import_each_other_in_no_circle() -> None:
    graph = import_graph()
    assert CLAIM_MODULES <= set(graph)
    claim_graph = {m: graph[m] & CLAIM_MODULES for m in CLAIM_MODULES}
    assert circles(claim_graph) == []
    # nor through any other module
    assert [c for c in circles(graph) if c & CLAIM_MODULES] == []


def test_the_claim_rules_never_reach_back_into_the_queue() -> None:
    """The gate, the fair share and the policy are handed a claim write: they do not know the
    queue, not even by type (the old gate and fair share called back into ``JobQueue.claim_next``)."""
    paths = {_module_name(p): p for p in ROOT.rglob("*.py")}
    for module in ("sccli.claim_policy", "sccli.gate", "sccli.fairness", "sccli.claiming"):
        imported = runtime_imports(ast.parse(paths[module].read_text()), module, set(paths), type_only=True)
        assert "sccli.queue" not in imported, module


def test_circles_are_found() -> None:  # the check above can fail
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sccli.b import X\n"
    known = {"sccli.a", "sccli.b", "sccli.c"}
    assert runtime_imports(ast.parse(source), "sccli.a", known) == set()
    assert runtime_imports(ast.parse(source), "sccli.a", known, type_only=True) == {"sccli.b"}
    lazy = "def f():\n    from sccli.b import claim\n    import sccli.c\n"
    assert runtime_imports(ast.parse(lazy), "sccli.a", known) == {"sccli.b", "sccli.c"}
    graph = {"sccli.a": {"sccli.b"}, "sccli.b": {"sccli.c"}, "sccli.c": {"sccli.a"}, "sccli.d": {"sccli.a"}}
    assert circles(graph) == [{"sccli.a", "sccli.b", "sccli.c"}]
