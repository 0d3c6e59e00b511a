"""The product's modules import each other in one direction only: no circle among them, and no
import tucked inside a function to get around one."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
PACKAGES = ("reclio_admin", "catalog", "embeddings")
# Django asks that an AppConfig reach models only once the app registry is ready.
IMPORT_ON_READY = {"catalog.apps", "embeddings.apps", "reclio_admin.apps"}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue  # migrations import inside functions by design (historical models)
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _targets(node: ast.Import | ast.ImportFrom, module: str) -> Iterator[str]:
    """The product modules an import statement loads."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module if _is_package(module) else module.rsplit(".", 1)[0]
            package = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
            base = f"{package}.{base}" if base else package
        names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
    for name in names:
        if name in MODULES:
            yield name


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str) -> tuple[set[str], list[tuple[int, str]]]:
    """(product modules imported when the module loads, (line, module) imported in functions)."""
    tree = ast.parse(MODULES[module].read_text())
    at_load: set[str] = set()
    in_functions: list[tuple[int, str]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                continue  # read by the type checker only
            if isinstance(child, ast.Import | ast.ImportFrom):
                for target in _targets(child, module):
                    if in_function:
                        in_functions.append((child.lineno, target))
                    else:
                        at_load.add(target)
            inner = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            visit(child, in_function or inner)

    visit(tree, False)
    return at_load - {module}, in_functions


Graph = dict[str, tuple[set[str], list[tuple[int, str]]]]
GRAPH: Graph = {module: _imports(module) for module in MODULES}


def _cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node][0]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return groups


def test_the_graph_sees_the_products_modules_and_their_imports() -> None:
    assert {"reclio_admin.settings", "catalog.models", "embeddings.registry"} <= set(MODULES)
    assert "embeddings.models" in GRAPH["embeddings.views"][0]
    assert "embeddings.migrations.0001_initial" not in MODULES
    # `if TYPE_CHECKING:` imports are for the type checker and load nothing.
    assert "embeddings.registry" not in GRAPH["embeddings.providers.base"][0]


def test_a_circle_is_found_whatever_its_length() -> None:
    graph: Graph = {
        "a": ({"b"}, []),
        "b": ({"c"}, []),
        "c": ({"a"}, []),
        "d": ({"a"}, []),
    }
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_circle_among_the_products_modules() -> None:
    assert _cycles(GRAPH) == []


def test_no_module_imports_a_product_module_inside_a_function() -> None:
    hidden = [
        f"{MODULES[module].relative_to(ROOT)}:{line} imports {target}"
        for module, (_, in_functions) in sorted(GRAPH.items())
        if module not in IMPORT_ON_READY
        for line, target in in_functions
    ]
    assert hidden == []
