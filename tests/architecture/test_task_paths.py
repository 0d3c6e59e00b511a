"""embeddings/tasks.py is the one map of what the worker runs: every task the product queues or
schedules is named by a dotted path into it, and each path finds a function there."""

from __future__ import annotations

import ast
import pydoc

import pytest
from django_q.models import Schedule

from embeddings.tasks import ensure_schedules
from tests.architecture.test_imports import MODULES, ROOT

# django-q's calls that take a task's function as their first argument.
QUEUEING = {"async_task", "schedule"}


def _called(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def _queued_paths() -> dict[str, str | None]:
    """{call site: the path it queues} for every `async_task(…)` and `schedule(…)` of the
    product: a string, or a module-level constant that holds one (None when neither)."""
    found: dict[str, str | None] = {}
    for path in MODULES.values():
        tree = ast.parse(path.read_text())
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called(node) in QUEUEING and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    queued: str | None = first.value
                elif isinstance(first, ast.Name):
                    queued = constants.get(first.id)
                else:
                    queued = None
                found[f"{path.relative_to(ROOT)}:{node.lineno}"] = queued
    return found


QUEUED = _queued_paths()


def _a_task_of_the_map(path: str | None) -> bool:
    return (
        path is not None and path.startswith("embeddings.tasks.") and callable(pydoc.locate(path))
    )


def test_the_walk_finds_the_products_queueing_call_sites() -> None:
    assert {
        "embeddings.tasks.run_job",
        "embeddings.tasks.measure_then_cut_over",
        "embeddings.tasks.compute_disagreements",
        "embeddings.tasks.refresh_token_counts",
    } <= set(QUEUED.values())


def test_every_task_the_product_queues_is_a_function_of_the_tasks_module() -> None:
    astray = {site: path for site, path in QUEUED.items() if not _a_task_of_the_map(path)}
    assert astray == {}


@pytest.mark.django_db
def test_every_schedule_names_a_function_of_the_tasks_module() -> None:
    ensure_schedules()

    funcs = list(Schedule.objects.values_list("func", flat=True))
    assert len(funcs) == 3
    assert [func for func in funcs if not _a_task_of_the_map(func)] == []
