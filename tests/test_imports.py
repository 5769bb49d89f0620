"""The import graph of the three packages: no cycles (lazy imports inside functions count too) and the dependency
direction of `style.md`: `aem` imports only torch and the standard library, `agent_envs` never imports `harness`."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("aem", "agent_envs", "harness")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> project modules it imports anywhere in its body (resolved to the longest existing module)."""
    files = {_module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets: set[str] = set()
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                wanted = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                    base = ".".join([*anchor, base] if base else anchor)
                wanted = [f"{base}.{alias.name}" for alias in node.names] + [base]
            else:
                continue
            for target in wanted:
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    targets.add(target)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    sys.setrecursionlimit(10_000)

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _package_edges(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """(module, imported module) pairs where a package's `__init__` imports its own submodules are dropped: the
    re-export of a package's public names is not a dependency between modules."""
    return {(a, b) for a, targets in graph.items() for b in targets if not b.startswith(a + ".")}


def test_no_import_cycles():
    graph = import_graph()
    pruned: dict[str, set[str]] = {name: set() for name in graph}
    for a, b in _package_edges(graph):
        pruned[a].add(b)
    assert cycles(pruned) == []


def test_dependency_direction():
    graph = import_graph()
    agent_envs_to_harness = [(a, b) for a, targets in graph.items() if a.startswith("agent_envs")
                             for b in targets if b.startswith("harness")]
    assert agent_envs_to_harness == []
    aem_outside = [(a, b) for a, targets in graph.items() if a.startswith("aem") for b in targets
                   if not b.startswith("aem")]
    assert aem_outside == []
    third_party = set()
    for path in (ROOT / "aem").rglob("*.py"):
        if "adapters" in path.parts:  # adapters import the engine they adapt (verl), lazily
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            third_party |= {n.split(".")[0] for n in names if n.split(".")[0] not in sys.stdlib_module_names}
    assert third_party <= {"torch", "aem", "__future__"}, third_party


def test_the_checker_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
