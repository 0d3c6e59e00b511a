"""The watchdog (every minute) resumes the content sync a dead worker left, as it does for
embedding jobs, and leaves a crash loop for a person to look at."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django_q.models import OrmQ

from catalog.models import CatalogItem, SyncJob
from catalog.tmdb.control import CRASH_LOOP, WORKER_GONE, create_sync, resume_sync, today
from embeddings import tasks
from tests.conftest import make_item
from tests.fakes.tmdb_server import FakeTMDb, movie

pytestmark = pytest.mark.django_db

Status = SyncJob.Status


def died_running(job: SyncJob, **counts: int) -> SyncJob:
    """The sync as a worker leaves it when killed mid-way: running, with no worker holding its
    lock (the dead process's session dropped it)."""
    SyncJob.objects.filter(pk=job.pk).update(status=Status.RUNNING, **counts)
    return SyncJob.objects.get(pk=job.pk)


def queued_syncs() -> list[str]:
    return [task.func() for task in OrmQ.objects.all()]


def test_a_sync_whose_worker_died_is_queued_again_and_then_completes(
    fake_tmdb: FakeTMDb,
) -> None:
    for n in (1, 2, 3):
        fake_tmdb.add(movie(n, overview=f"Rewritten {n}."), changed=today())
        make_item(tmdb_id=n, title=f"Film {n}", overview="Old.")
    job = died_running(create_sync())

    tasks.recover_jobs()

    job.refresh_from_db()
    assert (job.status, job.last_error, job.recovered_at) == (Status.QUEUED, "", 0)
    assert queued_syncs() == ["embeddings.tasks.run_content_sync"]
    # What the worker then runs finishes the sync.
    assert tasks.run_content_sync(job.pk) == Status.COMPLETED
    assert not CatalogItem.objects.filter(overview="Old.").exists()


def test_a_sync_that_dies_again_with_no_title_done_is_left_for_a_person() -> None:
    job = died_running(create_sync(), updated=40)
    tasks.recover_jobs()
    died_running(job)  # the resumed run died before finishing a title

    tasks.recover_jobs()

    job.refresh_from_db()
    assert (job.status, job.last_error) == (Status.INTERRUPTED, CRASH_LOOP)
    assert len(queued_syncs()) == 1  # queued once, not a second time
    tasks.recover_jobs()  # and the minutes after do not touch it either
    job.refresh_from_db()
    assert (job.status, job.last_error) == (Status.INTERRUPTED, CRASH_LOOP)


def test_a_resume_by_hand_starts_the_count_afresh() -> None:
    job = died_running(create_sync(), updated=40)
    tasks.recover_jobs()
    died_running(job)
    tasks.recover_jobs()  # held: a crash loop

    resume_sync(job.pk)
    died_running(job, updated=40)  # died again at once, but after a person's resume
    tasks.recover_jobs()

    job.refresh_from_db()
    assert job.status == Status.QUEUED


def test_an_older_interrupted_sync_is_left_alone_once_a_newer_one_ran() -> None:
    old = died_running(create_sync())
    SyncJob.objects.filter(pk=old.pk).update(
        status=Status.INTERRUPTED,
        last_error=WORKER_GONE,
        created_at=old.created_at - timedelta(days=2),
    )
    SyncJob.objects.create(since=today(), until=today(), status=Status.COMPLETED)

    tasks.recover_jobs()

    old.refresh_from_db()
    assert old.status == Status.INTERRUPTED
    assert queued_syncs() == []
