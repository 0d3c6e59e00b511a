"""A large job into an empty table loads without the HNSW index and leaves it built; a table
that already serves another model keeps its index all along."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings

from embeddings import jobs
from embeddings.models import Embedding384, EmbeddingJob
from tests.conftest import make_item
from tests.jobs.conftest import LOCAL_MODEL

pytestmark = pytest.mark.django_db
INDEX = "embeddings_384_hnsw_cosine"


def has_index() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [INDEX])
        return cursor.fetchone() is not None


def films(n: int) -> None:
    for i in range(n):
        make_item(title=f"Film {i}", overview=f"A lighthouse keeper's story, part {i}.")


@override_settings(JOB_BULK_LOAD_MIN_ITEMS=5)
def test_a_bulk_load_into_an_empty_table_builds_the_index_once_at_the_end() -> None:
    films(8)
    seen: list[bool] = []
    job = jobs.create_job("movie", LOCAL_MODEL, "all", batch_size=3)

    status = jobs.run_job(job.pk, on_progress=lambda _: seen.append(has_index()))

    assert status == EmbeddingJob.Status.COMPLETED
    assert seen[0] is False  # loading ran without the index…
    assert has_index()  # …which exists again once the job is done
    assert Embedding384.objects.for_model(LOCAL_MODEL).count() == 8


@override_settings(JOB_BULK_LOAD_MIN_ITEMS=5)
def test_a_table_that_already_holds_vectors_keeps_its_index_during_a_job() -> None:
    films(8)
    other = make_item(title="Served", overview="Already embedded by another model.")
    Embedding384.objects.create(
        item=other, model_key="local:other", embedding=[0.05] * 384, source_hash="x"
    )
    seen: list[bool] = []
    job = jobs.create_job("movie", LOCAL_MODEL, "all", batch_size=3)

    jobs.run_job(job.pk, on_progress=lambda _: seen.append(has_index()))

    assert seen and all(seen)


@override_settings(JOB_BULK_LOAD_MIN_ITEMS=5)
def test_a_cancelled_bulk_load_still_leaves_the_table_indexed() -> None:
    films(8)
    job = jobs.create_job("movie", LOCAL_MODEL, "all", batch_size=3)

    def cancel_after_first_batch(_: EmbeddingJob) -> None:
        EmbeddingJob.objects.filter(pk=job.pk).update(status=EmbeddingJob.Status.CANCELLING)

    status = jobs.run_job(job.pk, on_progress=cancel_after_first_batch)

    assert status == EmbeddingJob.Status.CANCELLED
    assert has_index()


@override_settings(JOB_BULK_LOAD_MIN_ITEMS=5)
def test_a_bulk_load_whose_model_stops_resolving_still_leaves_the_table_indexed() -> None:
    films(8)
    job = jobs.create_job("movie", LOCAL_MODEL, "all", batch_size=3)

    def folder_removed_then_cancelled(_: EmbeddingJob) -> None:
        EmbeddingJob.objects.filter(pk=job.pk).update(
            model_key="local:removed-folder", status=EmbeddingJob.Status.CANCELLING
        )

    status = jobs.run_job(job.pk, on_progress=folder_removed_then_cancelled)

    assert status == EmbeddingJob.Status.CANCELLED
    assert has_index()
