"""No import cycles among fragscope's modules (issue 17). No I/O beyond reading sources.

Every ``import`` counts, at module level or inside a function (a deferred import still
ties the two modules together), except those under ``if TYPE_CHECKING:``, which never
run. ``from a.b import c`` is an edge to ``a.b.c`` when that is a module, else to ``a.b``;
importing a submodule is not counted as importing its package's ``__init__``.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

import fragscope

ROOT = Path(fragscope.__file__).parent


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    # The package's folders are symlinks to the repository's (fragscope/__init__.py).
    paths = [
        Path(d, f)
        for d, _, files in os.walk(ROOT, followlinks=True)
        for f in files
        if f.endswith(".py")
    ]
    for path in sorted(paths):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        found[".".join(("fragscope", *parts))] = path
    return found


def _imported(tree: ast.AST) -> Iterator[tuple[str, list[str]]]:
    """(module, names) of every import that can run, skipping ``if TYPE_CHECKING:``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module, [a.name for a in node.names]


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for module, names in _imported(ast.parse(path.read_text(), str(path))):
            targets = [f"{module}.{n}" for n in names if f"{module}.{n}" in modules]
            if len(targets) < len(names) or not names:
                targets.append(module)
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def test_the_checker_sees_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_holds_known_edges() -> None:
    graph = import_graph()
    assert "fragscope.db.writer" in graph["fragscope.probes.engine.ledger"]
    assert "fragscope.probes.engine.shard_runner" in graph["fragscope.probes.engine.runs"]


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []
