"""House rules a newcomer can rely on: layers import downwards only (cli -> web -> outputs /
quality -> pipeline -> store), modules import one another without a cycle, and every SQL
statement lives in the store."""
from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "verify"
# Higher layers may import lower ones, never the reverse; the top-level modules (errors,
# util, loading) are shared by all. loading is the model seam: it reaches into the
# pipeline lazily, by design.
LAYERS = {"store": 0, "pipeline": 1, "quality": 2, "outputs": 2, "web": 3, "cli": 4}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Module -> the verify modules it imports, at module level or inside functions."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1])
                    target = f"{base}.{node.module}" if node.module else base
                else:
                    target = node.module or ""
                candidates = [target] + [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                candidates = [a.name for a in node.names]
            else:
                continue
            found |= {c for c in candidates if c in modules and c != "verify"}
        graph[name] = found - {name}
    return graph


def layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else None


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


def test_the_import_graph_sees_every_module_and_its_imports():
    graph = imports()
    assert {"verify.store.corpus", "verify.pipeline.check", "verify.cli", "verify.loading"} <= set(graph)
    assert "verify.store.corpus" in graph["verify.pipeline.check"]


def test_verify_modules_import_one_another_without_a_cycle():
    assert cycle(imports()) is None


def test_layers_import_downwards_only():
    upwards = [f"{m} imports {t}" for m, targets in imports().items() for t in targets
               if layer(m) is not None and layer(t) is not None and layer(t) > layer(m)]
    sideways = [f"{m} imports {t}" for m, targets in imports().items() for t in targets
                if {(m.split(".") + [""])[1], (t.split(".") + [""])[1]} == {"quality", "outputs"}]
    assert upwards + sideways == []


SQL = re.compile(r"\.execute\(|\bselect\s+[\w*(]|\binsert\s+into\b|\bdelete\s+from\b|\bupdate\s+\w+\s+set\b", re.I)


def outside_the_store() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] != "store"]


def test_sql_lives_only_in_the_store():
    outside = [f"{p.relative_to(PACKAGE)}:{i}" for p in outside_the_store()
               for i, line in enumerate(p.read_text().splitlines(), 1) if SQL.search(line)]
    assert outside == []


# A piece of a statement: a comparison with a placeholder or a quoted value on a column
# ("s.document_id = ?", "kind = 'official'", "text like ?"), or an ordering by a column
# ("order by d.published desc"). The store takes arguments, never SQL.
FRAGMENT = re.compile(r"\b\w+(\.\w+)?\s*(=|!=|<>|<=|>=|<|>|\blike|\bin)\s*(\(\s*)?(\?|%s|'[^']*')"
                      r"|\b(order|group)\s+by\s+\w+\.\w+", re.I)


_NAMED_GROUP = re.compile(r"\(\?P<\w+>")  # a regular expression's "(?P<who>(?:" is not "who > ?"


def sql_fragments(source: str) -> list[int]:
    """Lines of ``source`` with a string literal (not a docstring) that is a piece of SQL."""
    tree = ast.parse(source)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return sorted({node.lineno for node in ast.walk(tree)
                   if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                   and FRAGMENT.search(_NAMED_GROUP.sub("(", node.value))})


def test_the_fragment_finder_finds_where_clauses():
    assert sql_fragments('corpus.sentences("s.document_id = ?", [7])') == [1]
    assert sql_fragments("corpus.count('documents', \"kind = 'official'\")") == [1]
    assert sql_fragments('x = "where id > ?"\ny = "text like ?"\nz = "order by d.published"') == [1, 2, 3]
    prose = '"""A docstring: where x = ? is fine."""\nprint("a = b", "where to build it", "and the claim are")'
    assert sql_fragments(prose) == []
    assert sql_fragments('re.compile(r"(?P<who>(?:He|She))")') == []


def test_no_sql_fragments_cross_the_store_boundary():
    found = [f"{p.relative_to(PACKAGE)}:{line}" for p in outside_the_store() for line in sql_fragments(p.read_text())]
    assert found == []
