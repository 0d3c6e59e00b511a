"""A job walks its work in keyset-ordered chunks: memory per worker is one chunk's texts, and the
counts stay exact across chunks, cancels and resumes."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from catalog.models import CatalogItem
from embeddings import jobs
from embeddings.models import Embedding768, EmbeddingJob
from embeddings.text import item_text
from tests.conftest import make_item

pytestmark = pytest.mark.django_db
Status = EmbeddingJob.Status
SMALL = "openai:text-embedding-3-small@768"


def test_a_job_over_several_chunks_embeds_every_item_once_and_resumes_mid_way(
    fake_openai: Any, settings: Any
) -> None:
    settings.JOB_CHUNK_SIZE = 4
    films = [make_item(title=f"Film {i}", overview=f"Story {i}.") for i in range(11)]
    make_item(title="")  # no text: skipped
    job = jobs.create_job("movie", SMALL, "all", batch_size=2)

    def cancel_mid_way(current: EmbeddingJob) -> None:
        if current.done >= 5:
            jobs.cancel_job(current.pk)

    assert jobs.run_job(job.pk, on_progress=cancel_mid_way) == Status.CANCELLED
    job.refresh_from_db()
    assert (job.total, job.done, job.skipped) == (12, 6, 1)
    assert Embedding768.objects.for_model(SMALL).count() == 6

    jobs.resume_job(job.pk)
    assert jobs.run_job(job.pk) == Status.COMPLETED
    job.refresh_from_db()
    assert (job.total, job.done, job.skipped, job.failed) == (12, 11, 1, 0)
    assert job.percent == 100.0
    sent = Counter(fake_openai.inputs)
    assert sorted(sent) == sorted(item_text(film) for film in films)
    assert set(sent.values()) == {1}  # nothing embedded twice, across the cancel and the resume
    assert Embedding768.objects.for_model(SMALL).count() == 11


def test_a_stale_job_over_several_chunks_counts_what_it_skips_exactly(
    fake_openai: Any, settings: Any
) -> None:
    settings.JOB_CHUNK_SIZE = 3
    films = [make_item(title=f"Film {i}", overview=f"Story {i}.") for i in range(10)]
    jobs.run_job(jobs.create_job("movie", SMALL, "stale", batch_size=4).pk)
    for film in films[::3]:
        film.overview = "Rewritten."
        film.save()
    CatalogItem.objects.filter(pk=films[1].pk).update(title="")  # its text is gone

    rerun = jobs.create_job("movie", SMALL, "stale", batch_size=4)
    assert jobs.run_job(rerun.pk) == Status.COMPLETED
    rerun.refresh_from_db()
    assert (rerun.total, rerun.done, rerun.skipped, rerun.failed) == (10, 4, 6, 0)
    assert Counter(fake_openai.inputs)["Film 0 (2000). Rewritten. Genres: Drama."] == 1


def test_a_worker_fills_its_batches_past_the_items_another_worker_holds(
    fake_openai: Any, live_workers: Any
) -> None:
    films = [make_item(title=f"Film {i}", overview=f"Story {i}.") for i in range(10)]
    job = jobs.create_job("movie", SMALL, "all", batch_size=4)
    # Another worker is embedding two items in the middle of what would be this one's first batch.
    live_workers.claim(SMALL, [films[1].pk, films[2].pk])

    assert jobs.run_job(job.pk) == Status.RUNNING  # the rest is in the other worker's hands

    assert [len(request.inputs) for request in fake_openai.requests] == [4, 4]
    assert Embedding768.objects.for_model(SMALL).count() == 8
    live_workers.stop()
    jobs.resume_job(job.pk)
    assert jobs.run_job(job.pk) == Status.COMPLETED
    assert [len(request.inputs) for request in fake_openai.requests] == [4, 4, 2]
    sent = Counter(fake_openai.inputs)
    assert sorted(sent) == sorted(item_text(film) for film in films)
    assert set(sent.values()) == {1}
