"""The import graph of the project's own modules, read with `ast`: layers point down, and nothing goes round.

- no module outside an `api` package imports from one (the URLconfs, which
  compose the routes, are the only exception);
- no import cycle, however long;
- no function-level import of a project module, except in an AppConfig's
  `ready()`, where Django registers checks and signal handlers.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("adbot_admin", "cms", "sessions_admin")


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules():
    """Return {module name: path} of every module but tests and migrations."""
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if not {"tests", "migrations"} & set(path.relative_to(ROOT).parts):
                modules[_module_name(path)] = path
    return modules


def _targets(node, module, is_package, modules):
    """Return the project modules an import statement names (`from . import x` names x when x is a module)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - node.level + 1]
            source = ".".join([*base, node.module] if node.module else base)
        else:
            source = node.module or ""
        names = [source, *(f"{source}.{alias.name}" for alias in node.names)]
    return {name for name in names if name in modules}


class _Imports(ast.NodeVisitor):
    def __init__(self):
        self.found = []  # (node, enclosing function or None)
        self.function = None

    def visit_FunctionDef(self, node):
        outer, self.function = self.function, node
        self.generic_visit(node)
        self.function = outer

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Import(self, node):
        self.found.append((node, self.function))

    visit_ImportFrom = visit_Import


def import_graph():
    """Return ({module: set of imported project modules}, [(module, line) of function-level imports])."""
    modules = project_modules()
    graph, nested = {}, []
    for module, path in modules.items():
        visitor = _Imports()
        visitor.visit(ast.parse(path.read_text(), filename=str(path)))
        graph[module] = set()
        for node, function in visitor.found:
            targets = _targets(node, module, path.name == "__init__.py", modules) - {module}
            graph[module] |= targets
            in_ready = function is not None and function.name == "ready" and module.endswith(".apps")
            if targets and function is not None and not in_ready:
                nested.append((module, node.lineno))
    return graph, nested


def _in_api(module):
    return "api" in module.split(".")


def test_nothing_outside_api_imports_from_api():
    graph, _ = import_graph()
    upward = sorted(
        (module, target)
        for module, targets in graph.items()
        if not _in_api(module) and module.split(".")[-1] != "urls"
        for target in targets
        if _in_api(target)
    )
    assert upward == []


def cycles(graph):
    """Return the strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_cycle():
    graph, _ = import_graph()
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_function_level_imports_of_project_modules():
    _, nested = import_graph()
    assert nested == []


def test_the_graph_sees_relative_and_absolute_imports():
    graph, _ = import_graph()
    assert "adbot_admin.signin" in graph["adbot_admin.api.views"]  # `from .. import signin`
    assert "adbot_admin.audit" in graph["sessions_admin.services"]  # `from adbot_admin.audit import record`
