"""House rules a newcomer can rely on: modules import one another without a cycle, and
every SQL statement lives in the store (verify/corpus.py)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "verify"
STORE = {"corpus.py"}


def imports() -> dict[str, set[str]]:
    """Module -> the verify modules it imports, at module level or inside functions."""
    graph = {}
    for path in PACKAGE.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("verify."):
                found.add(node.module.split(".")[1])
        graph[path.stem] = found - {"__init__"}
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path + [node, nxt]
            if nxt not in state and (found := visit(nxt, path + [node])):
                return found
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node, [])):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_verify_modules_import_one_another_without_a_cycle():
    assert cycle(imports()) is None


SQL = re.compile(r"\.execute\(|\bselect\s+[\w*(]|\binsert\s+into\b|\bdelete\s+from\b|\bupdate\s+\w+\s+set\b", re.I)


def test_sql_lives_only_in_the_store():
    outside = [f"{p.name}:{i}" for p in PACKAGE.glob("*.py") if p.name not in STORE
               for i, line in enumerate(p.read_text().splitlines(), 1) if SQL.search(line)]
    assert outside == []
