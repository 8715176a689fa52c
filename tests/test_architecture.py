"""The architecture: the package's import graph is a DAG (one-way pipeline, then run time, then API).

Imports inside functions count: an import deferred into a function to dodge an import cycle is
still a cycle. The graph is read with ``ast``, not by importing anything.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "s2sad"


def _module(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (at module level or inside functions). ``from . import m``
    is an edge to ``m``; the implicit import of a module's parent package is not an edge."""
    paths = {_module(p): p for p in sorted(PACKAGE.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name.split(".")[0] == "s2sad"}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                    base = f"{base}.{node.module}" if node.module else base
                else:
                    base = node.module or ""
                if base.split(".")[0] != "s2sad":
                    continue
                submodules = {f"{base}.{a.name}" for a in node.names} & paths.keys()
                edges |= submodules if len(submodules) == len(node.names) else {base} | submodules
        graph[name] = {e for e in edges if e in paths and e != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a path that returns to its start, or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    cycle = find_cycle(graph)
    edges = "\n".join(f"  {m} -> {', '.join(sorted(d))}" for m, d in sorted(graph.items()))
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}\nthe graph:\n{edges}"


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("module,forbidden", [
    ("s2sad.activity", {"s2sad.cache", "s2sad.linker", "s2sad.api", "s2sad.transform"}),  # analysis stays compile time
    ("s2sad.facts", {"s2sad.activity", "s2sad.cache", "s2sad.linker", "s2sad.api"}),  # facts come before activity
    ("s2sad.classify", {"s2sad.facts", "s2sad.activity", "s2sad.cache", "s2sad.linker", "s2sad.api"}),
    ("s2sad.forward", {"s2sad.reverse"}),  # the two modes share ``modes``, not each other's privates
    ("s2sad.reverse", {"s2sad.fuse", "s2sad.transform"}),  # ``transform`` is the only driver
    ("s2sad.cache", {"s2sad.transform", "s2sad.api"}),  # the run time is handed the pipeline
    ("s2sad.rules", {"s2sad.rules_numpy", "s2sad.rules_runtime", "s2sad.api"}),
])
def test_stages_import_only_what_comes_before_them(module, forbidden):
    graph = import_graph()
    reached, todo = set(), [module]
    while todo:
        for nxt in graph[todo.pop()] - reached:
            reached.add(nxt)
            todo.append(nxt)
    assert not reached & forbidden, f"{module} reaches {sorted(reached & forbidden)}"


def _rule_name_tests(path: pathlib.Path) -> list[int]:
    """Lines where ``path`` compares a rule's name (``p.rule.name == "x[index]"``, ``.startswith("math.")``)."""
    def rule_name(e: ast.AST) -> bool:
        return isinstance(e, ast.Attribute) and e.attr == "name" and isinstance(e.value, ast.Attribute) \
            and e.value.attr == "rule"

    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare) and any(map(rule_name, [node.left, *node.comparators])):
            lines.append(node.lineno)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and rule_name(node.func.value):
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("module", ["activity", "classify", "facts", "mutation", "reverse", "forward", "resolve"])
def test_analyses_read_declared_properties_not_rule_names(module):
    assert _rule_name_tests(PACKAGE / f"{module}.py") == []


def test_each_primitive_is_declared_once():
    from s2sad import rules

    assert not hasattr(rules, "set_forward") and not hasattr(rules, "set_container") and not hasattr(rules, "allow_complex")
    with pytest.raises(ValueError, match="declared twice"):
        rules.defrule(rules.operator.add, "+", lambda g, ans, x, y: (g, g))
    views = {r.name for r in rules.RULES.values() if r.view}
    assert {"x[index]", "numpy.reshape", "numpy.transpose", "sequence"} <= views and "numpy.copy" not in views


MAX_LINES = 60
LONG_FUNCTIONS: set[str] = set()  # "module.py:Class.method" allowed to be longer, while being split


def _functions(path: pathlib.Path):
    def visit(node: ast.AST, prefix: str):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                if not isinstance(child, ast.ClassDef):
                    yield f"{prefix}{child.name}", child.end_lineno - child.lineno + 1
                yield from visit(child, f"{prefix}{child.name}.")
            else:
                yield from visit(child, prefix)

    yield from visit(ast.parse(path.read_text()), "")


def test_no_function_is_longer_than_60_lines():
    long = {f"{path.relative_to(PACKAGE)}:{name}": n for path in sorted(PACKAGE.rglob("*.py"))
            for name, n in _functions(path) if n > MAX_LINES}
    assert set(long) <= LONG_FUNCTIONS, f"split these (lines, docstring included): {long}"
    assert not LONG_FUNCTIONS - set(long), f"no longer long, take them off LONG_FUNCTIONS: {LONG_FUNCTIONS - set(long)}"
