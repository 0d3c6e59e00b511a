"""Tasks an earlier release queued or scheduled under the dotted paths of before
embeddings/tasks.py still run after the upgrade: a migration points them at their new home."""

from __future__ import annotations

import importlib
import pydoc

import pytest
from django.apps import apps
from django.utils import timezone
from django_q.models import OrmQ, Schedule
from django_q.tasks import async_task

from embeddings import jobs
from embeddings.models import EmbeddingJob
from tests.conftest import make_item
from tests.jobs.conftest import LOCAL_MODEL

pytestmark = pytest.mark.django_db

migration = importlib.import_module("embeddings.migrations.0014_task_paths")
OLD_PATH_OF = {new: old for old, new in migration.MOVED.items()}


def queued_funcs() -> list[str]:
    return [entry.task.get("func") for entry in OrmQ.objects.order_by("pk")]


def run_as_the_worker_does(
    func: str, args: tuple[object, ...], kwargs: dict[str, object]
) -> object:
    """django-q's worker finds a task's function by its path (`pydoc.locate`), then calls it."""
    found = pydoc.locate(func)
    assert callable(found), f"{func} names no function"
    return found(*args, **kwargs)


def test_a_job_queued_and_a_watchdog_scheduled_under_the_old_paths_run_after_the_migration() -> (
    None
):
    make_item(title="Heat", overview="A thief and a detective in Los Angeles.")
    job = jobs.create_job("movie", LOCAL_MODEL, "all")
    async_task(
        "embeddings.jobs.run_job", job.pk, spread=True, task_name="generate-movie-embeddings"
    )
    Schedule.objects.create(
        name="Job watchdog", func="embeddings.jobs.recover_jobs",
        schedule_type=Schedule.MINUTES, minutes=1, repeats=-1,
    )  # fmt: skip

    migration.to_tasks(apps, None)

    [entry] = OrmQ.objects.all()
    assert entry.task["func"] == "embeddings.tasks.run_job" == jobs.RUN_JOB
    assert (entry.task["args"], entry.task["kwargs"]) == ((job.pk,), {"spread": True})
    assert entry.task["name"] == "generate-movie-embeddings"
    watchdog = Schedule.objects.get(name="Job watchdog")
    assert watchdog.func == "embeddings.tasks.recover_jobs"

    assert run_as_the_worker_does(watchdog.func, (), {}) == []
    status = run_as_the_worker_does(entry.task["func"], entry.task["args"], entry.task["kwargs"])
    assert status == EmbeddingJob.Status.COMPLETED
    assert EmbeddingJob.objects.get(pk=job.pk).done == 1


@pytest.mark.parametrize("old", sorted(migration.MOVED | migration.INTERIM))
def test_every_old_path_is_pointed_at_a_task_of_the_map_and_back(old: str) -> None:
    async_task(old, 7, task_name="an old task")
    Schedule.objects.create(name="an old schedule", func=old, schedule_type=Schedule.DAILY)

    migration.to_tasks(apps, None)

    [new] = queued_funcs()
    assert new.startswith("embeddings.tasks.") and callable(pydoc.locate(new))
    assert Schedule.objects.get().func == new
    [entry] = OrmQ.objects.all()
    assert (entry.task["args"], entry.task["name"]) == ((7,), "an old task")

    migration.back_to_old_paths(apps, None)

    assert queued_funcs() == [OLD_PATH_OF[new]]
    assert Schedule.objects.get().func == OLD_PATH_OF[new]


def test_other_tasks_and_unreadable_entries_are_left_as_they_are() -> None:
    async_task("catalog.importer.import_catalog", "films.csv")
    unreadable = OrmQ.objects.create(key="reclio", payload="not a signed task", lock=timezone.now())
    Schedule.objects.create(name="someone else's", func="math.floor", schedule_type=Schedule.DAILY)

    migration.to_tasks(apps, None)

    assert queued_funcs()[0] == "catalog.importer.import_catalog"
    assert OrmQ.objects.get(pk=unreadable.pk).payload == "not a signed task"
    assert Schedule.objects.get().func == "math.floor"
