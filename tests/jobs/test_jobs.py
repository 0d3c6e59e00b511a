"""Regeneration jobs run in this process with the local model: what gets embedded, counted,
skipped, cancelled, resumed and refused."""

from __future__ import annotations

import numpy as np
import pytest
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from catalog.models import CatalogItem
from embeddings import jobs, tasks
from embeddings.models import Embedding384, EmbeddingJob, EmbeddingSettings, HealthCheck
from embeddings.providers import get_provider
from embeddings.startup import prepare
from embeddings.tasks import SCHEDULE_HEALTH, SCHEDULE_SYNC, SCHEDULE_WATCHDOG, health_check
from embeddings.text import item_text, source_hash
from tests.conftest import make_item
from tests.jobs.conftest import LOCAL_MODEL, wait_for

pytestmark = pytest.mark.django_db
Status = EmbeddingJob.Status


def films(n: int, kind: str = "movie") -> list[CatalogItem]:
    return [
        make_item(
            kind=kind,
            title=f"{kind.title()} {i}",
            overview=f"Story number {i} about a lighthouse keeper.",
        )
        for i in range(n)
    ]


def rows(model_key: str = LOCAL_MODEL) -> int:
    return Embedding384.objects.for_model(model_key).count()


def test_a_job_embeds_every_item_with_text_and_skips_the_empty_one() -> None:
    items = films(5)
    make_item(title="")
    job = jobs.create_job("movie", LOCAL_MODEL, "stale", batch_size=2)

    assert jobs.run_job(job.pk) == Status.COMPLETED

    job.refresh_from_db()
    assert (job.total, job.done, job.skipped, job.failed) == (6, 5, 1, 0)
    assert job.percent == 100.0 and job.finished_at is not None
    assert rows() == 5
    stored = Embedding384.objects.get(item=items[0], model_key=LOCAL_MODEL)
    assert stored.source_hash == source_hash(item_text(items[0]))
    expected = get_provider(LOCAL_MODEL).embed([item_text(items[0])])[0]
    assert np.allclose(np.asarray(stored.embedding), expected, atol=1e-6)


def test_a_stale_rerun_with_nothing_changed_embeds_nothing_and_a_changed_item_is_embedded_again() -> (
    None
):
    items = films(4)
    jobs.run_job(jobs.create_job("movie", LOCAL_MODEL).pk)
    before = dict(Embedding384.objects.values_list("item_id", "created_at"))

    rerun = jobs.create_job("movie", LOCAL_MODEL, "stale")
    jobs.run_job(rerun.pk)
    rerun.refresh_from_db()
    assert (rerun.done, rerun.skipped) == (0, 4)

    CatalogItem.objects.filter(pk=items[2].pk).update(overview="A different story altogether.")
    changed = jobs.create_job("movie", LOCAL_MODEL, "stale")
    jobs.run_job(changed.pk)
    changed.refresh_from_db()
    assert (changed.done, changed.skipped) == (1, 3)
    after = dict(Embedding384.objects.values_list("item_id", "created_at"))
    assert [pk for pk in after if after[pk] != before[pk]] == [items[2].pk]
    assert rows() == 4


def test_missing_mode_leaves_changed_items_alone_and_all_mode_redoes_everything() -> None:
    items = films(3)
    jobs.run_job(jobs.create_job("movie", LOCAL_MODEL).pk)
    CatalogItem.objects.filter(pk=items[0].pk).update(overview="Rewritten.")

    missing = jobs.create_job("movie", LOCAL_MODEL, "missing")
    jobs.run_job(missing.pk)
    everything = jobs.create_job("movie", LOCAL_MODEL, "all")
    jobs.run_job(everything.pk)

    missing.refresh_from_db()
    everything.refresh_from_db()
    assert (missing.done, missing.skipped) == (0, 3)
    assert (everything.done, everything.skipped) == (3, 0)
    assert rows() == 3


def test_a_second_start_for_the_same_kind_and_model_is_refused_with_a_message() -> None:
    first = jobs.start_job("movie", LOCAL_MODEL)

    with pytest.raises(
        jobs.JobRefused, match="A movies job for local:all-MiniLM-L6-v2 is already running"
    ):
        jobs.start_job("movie", LOCAL_MODEL)

    assert EmbeddingJob.objects.filter(status=Status.QUEUED).count() == 1
    assert OrmQ.objects.count() == 1
    assert jobs.start_job("series", LOCAL_MODEL).pk != first.pk


def test_an_unknown_model_or_a_bad_batch_size_is_refused_before_anything_is_queued() -> None:
    with pytest.raises(jobs.JobRefused, match="unknown embedding model"):
        jobs.start_job("movie", "nosuch:model")
    with pytest.raises(jobs.JobRefused, match="batch size"):
        jobs.start_job("movie", LOCAL_MODEL, batch_size=5000)
    with pytest.raises(jobs.JobRefused, match="spending cap"):
        jobs.start_job("movie", LOCAL_MODEL, spending_cap_usd="lots")
    assert not EmbeddingJob.objects.exists()
    assert not OrmQ.objects.exists()


def test_cancel_stops_a_running_job_after_its_batch_and_resume_finishes_without_doing_anything_twice() -> (
    None
):
    films(7)
    job = jobs.create_job("movie", LOCAL_MODEL, "all", batch_size=2)

    def cancel_after_first_batch(current: EmbeddingJob) -> None:
        if current.done and current.status == Status.RUNNING:
            jobs.cancel_job(current.pk)

    assert jobs.run_job(job.pk, on_progress=cancel_after_first_batch) == Status.CANCELLED
    job.refresh_from_db()
    assert (job.done, rows()) == (2, 2)

    jobs.resume_job(job.pk)
    assert jobs.run_job(job.pk) == Status.COMPLETED
    job.refresh_from_db()
    assert (job.total, job.done, job.skipped, job.failed) == (7, 7, 0, 0)
    assert rows() == 7


def test_a_queued_job_that_is_cancelled_never_runs() -> None:
    films(2)
    job = jobs.start_job("movie", LOCAL_MODEL)

    jobs.cancel_job(job.pk)

    assert jobs.run_job(job.pk) == Status.CANCELLED
    assert rows() == 0
    with pytest.raises(jobs.JobRefused, match="nothing to cancel"):
        jobs.cancel_job(job.pk)


def test_a_running_job_no_worker_holds_is_recorded_interrupted_and_can_be_resumed(
    live_workers,
) -> None:
    films(3)
    job = jobs.create_job("movie", LOCAL_MODEL)
    EmbeddingJob.objects.filter(pk=job.pk).update(
        status=Status.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now()
    )
    live_workers.hold(job.pk)
    assert jobs.mark_interrupted() == 0  # a worker holds it, however old its heartbeat

    live_workers.stop()  # the worker's process dies: PostgreSQL ends its session
    assert wait_for(jobs.mark_interrupted, timeout=5, what="the session to end") == 1
    job.refresh_from_db()
    assert job.status == Status.INTERRUPTED and "worker stopped" in job.last_error

    jobs.resume_job(job.pk)
    assert jobs.run_job(job.pk) == Status.COMPLETED
    assert rows() == 3


def test_the_watchdog_resumes_a_dead_job_but_not_one_that_dies_again_without_progress() -> None:
    films(3)
    job = jobs.create_job("movie", LOCAL_MODEL)
    one = EmbeddingJob.objects.filter(pk=job.pk)

    def dies(done: int) -> None:  # running, no worker lock held: its process is gone
        one.update(status=Status.RUNNING, done=done, heartbeat_at=timezone.now())

    dies(done=1)
    assert jobs.recover_jobs() == [job.pk]
    dies(done=2)  # it got further before dying: a crash, not a loop
    assert jobs.recover_jobs() == [job.pk]
    dies(done=2)  # dead again at the same point

    assert jobs.recover_jobs() == []
    job.refresh_from_db()
    assert job.status == Status.INTERRUPTED and job.last_error == jobs.CRASH_LOOP
    assert OrmQ.objects.count() == 2  # the two automatic resumes, no third

    jobs.resume_job(job.pk)  # a person looked and resumes it
    dies(done=2)
    assert jobs.recover_jobs() == [job.pk]
    assert jobs.run_job(job.pk) == Status.COMPLETED


def test_resume_is_refused_while_another_job_for_the_same_kind_and_model_runs() -> None:
    old = jobs.create_job("movie", LOCAL_MODEL)
    EmbeddingJob.objects.filter(pk=old.pk).update(status=Status.INTERRUPTED)
    jobs.start_job("movie", LOCAL_MODEL)

    with pytest.raises(jobs.JobRefused, match="already running"):
        jobs.resume_job(old.pk)


def test_embed_items_embeds_one_item_now_and_skips_it_when_it_is_up_to_date() -> None:
    item = films(2)[1]

    first = jobs.embed_items([item.pk], LOCAL_MODEL)
    again = jobs.embed_items([item.pk], LOCAL_MODEL)

    assert (first.done, first.skipped, first.failed) == (1, 0, 0)
    assert (again.done, again.skipped, again.failed) == (0, 1, 0)
    assert list(Embedding384.objects.values_list("item_id", flat=True)) == [item.pk]


def test_a_completed_job_makes_the_model_being_built_active_once_it_covers_the_catalog() -> None:
    films(3)
    EmbeddingSettings.objects.update_or_create(
        pk=1, defaults={"active_model_key": "none:disabled", "building_model_key": LOCAL_MODEL}
    )

    tasks.run_job(jobs.create_job("movie", LOCAL_MODEL).pk)

    config = EmbeddingSettings.load()
    assert (config.active_model_key, config.building_model_key, config.previous_model_key) == (
        LOCAL_MODEL,
        "",
        "none:disabled",
    )


def test_the_health_check_records_the_latency_of_a_working_model_and_the_error_of_a_disabled_one() -> (
    None
):
    EmbeddingSettings.objects.update_or_create(pk=1, defaults={"active_model_key": LOCAL_MODEL})
    ok = health_check()
    EmbeddingSettings.objects.filter(pk=1).update(active_model_key="none:disabled")
    broken = health_check()

    assert ok.ok and ok.latency_ms is not None and ok.latency_ms > 0
    assert not broken.ok and "turned off" in broken.error
    assert HealthCheck.objects.count() == 2


def test_the_first_run_creates_the_schedules_and_queues_the_movie_and_series_jobs_once() -> None:
    films(2)
    films(1, kind="series")
    EmbeddingSettings.objects.update_or_create(pk=1, defaults={"active_model_key": LOCAL_MODEL})

    lines = list(prepare())
    again = list(prepare())

    assert any("queued the movies and series jobs" in line for line in lines)
    assert not any("queued" in line for line in again)
    queued = EmbeddingJob.objects.filter(status=Status.QUEUED)
    assert sorted(queued.values_list("kind", flat=True)) == ["movie", "series"]
    assert set(queued.values_list("mode", flat=True)) == {"stale"}
    schedules = dict(Schedule.objects.values_list("name", "func"))
    assert schedules == {
        SCHEDULE_SYNC: "embeddings.tasks.daily_content_sync",
        SCHEDULE_HEALTH: "embeddings.tasks.health_check",
        SCHEDULE_WATCHDOG: "embeddings.tasks.recover_jobs",
    }
    sync = Schedule.objects.get(name=SCHEDULE_SYNC)
    assert sync.schedule_type == Schedule.DAILY
    assert timezone.localtime(sync.next_run).hour == 3


def test_the_first_run_queues_nothing_when_the_active_model_already_has_embeddings() -> None:
    item = films(1)[0]
    EmbeddingSettings.objects.update_or_create(pk=1, defaults={"active_model_key": LOCAL_MODEL})
    jobs.embed_items([item.pk], LOCAL_MODEL)

    lines = list(prepare())

    assert not EmbeddingJob.objects.exists()
    assert not any("queued" in line for line in lines)
