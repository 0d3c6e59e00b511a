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
    assert "embeddings.models" in GRAPH["embeddings.views.jobs"][0]
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


# The order the embeddings code is built in, from the edge down: a module may import its own
# package and the layers below its own, never one above. Modules outside these prefixes
# (reclio_admin's settings and infrastructure) are held by the circle test alone.
LAYERS: list[tuple[str, ...]] = [
    (
        "embeddings.views", "embeddings.urls", "embeddings.forms", "embeddings.metrics",
        "embeddings.templatetags", "embeddings.management", "embeddings.workbench",
        "embeddings.startup", "embeddings.apps", "embeddings.checks", "catalog.admin",
        "catalog.management",
    ),
    ("embeddings.tasks",),
    ("embeddings.switching",),
    ("embeddings.storage",),
    ("embeddings.quality",),
    ("embeddings.neighbours",),
    ("embeddings.jobs",),
    ("embeddings.providers",),
    ("embeddings.models",),
    ("embeddings.registry",),
    (
        "embeddings.worker_locks", "embeddings.local_models", "embeddings.permissions",
        "embeddings.text", "embeddings", "catalog",
    ),
]  # fmt: skip


def _layer(module: str) -> int | None:
    """The layer a module belongs to: the one with the longest prefix that names it."""
    best: tuple[int, int] | None = None
    for number, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            named = module == prefix or module.startswith(f"{prefix}.")
            if named and (best is None or len(prefix) > best[1]):
                best = (number, len(prefix))
    return None if best is None else best[0]


def _upward_imports(graph: Graph) -> list[str]:
    found = []
    for module, (targets, _) in sorted(graph.items()):
        own = _layer(module)
        if own is None:
            continue
        for target in sorted(targets):
            theirs = _layer(target)
            if theirs is not None and theirs < own:
                found.append(f"{module} imports {target}, a layer above it")
    return found


def test_every_embeddings_module_has_a_place_in_the_order() -> None:
    placeless = [m for m in MODULES if m.startswith("embeddings") and _layer(m) is None]
    assert placeless == []


def test_an_import_against_the_order_is_found() -> None:
    graph: Graph = {
        "embeddings.jobs.runner": ({"embeddings.quality.measure", "embeddings.models"}, []),
        "embeddings.quality.measure": ({"embeddings.neighbours.blends"}, []),
    }
    assert _upward_imports(graph) == [
        "embeddings.jobs.runner imports embeddings.quality.measure, a layer above it"
    ]


def test_the_packages_import_only_downwards() -> None:
    assert _upward_imports(GRAPH) == []
