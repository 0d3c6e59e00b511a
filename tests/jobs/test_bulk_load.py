"""A large job into an empty table loads without the HNSW index and leaves it built, however it
ends; a table that already serves another model keeps its index all along; a bench's COPY that
fails leaves its table indexed; the watchdog mends a table that lost its index any other way."""

from __future__ import annotations

import logging

import numpy as np
import psycopg
import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from embeddings import jobs
from embeddings.models import (
    Embedding384,
    Embedding768,
    Embedding1536,
    EmbeddingJob,
    drop_hnsw_index,
)
from embeddings.workbench.bench import copy_vector, loading_without_index, raw_connection
from tests.conftest import make_item
from tests.jobs.conftest import LOCAL_MODEL, wait_for

pytestmark = pytest.mark.django_db
INDEX = "embeddings_384_hnsw_cosine"
SMALL = "openai:text-embedding-3-small@768"
SMALL_INDEX = "embeddings_768_hnsw_cosine"


def has_index(name: str = INDEX) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [name])
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


@override_settings(JOB_BULK_LOAD_MIN_ITEMS=5)
def test_a_bulk_load_whose_provider_answers_wrong_vectors_fails_and_leaves_the_table_indexed(
    fake_openai,
) -> None:
    films(8)
    fake_openai.fail_forever("wrong-dimension")
    job = jobs.create_job("movie", SMALL, "all", batch_size=2)
    seen: list[bool] = []

    status = jobs.run_job(job.pk, on_progress=lambda _: seen.append(has_index(SMALL_INDEX)))

    assert status == EmbeddingJob.Status.FAILED
    assert seen[0] is False  # it loaded without the index…
    assert has_index(SMALL_INDEX)  # …and failing did not leave it so
    assert not Embedding768.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_copy_that_fails_mid_way_is_rolled_back_and_the_index_is_built_again() -> None:
    """The benches' bulk load: a vector of the wrong dimension after a good one aborts the
    COPY's transaction, where the index build used to fail too."""
    items = [make_item(title=f"Film {i}").pk for i in range(2)]
    copy_sql = (
        f"COPY {Embedding1536._meta.db_table} (item_id, model_key, embedding, source_hash, "
        "created_at) FROM STDIN WITH (FORMAT BINARY)"
    )
    rows = [(items[0], np.ones(1536, np.float32)), (items[1], np.ones(1535, np.float32))]

    with (
        raw_connection() as conn,
        pytest.raises(psycopg.errors.DataError, match="expected 1536 dimensions, not 1535"),
        loading_without_index(conn, Embedding1536, {"maintenance_work_mem": "64MB"}),
        conn.cursor() as cursor,
        cursor.copy(copy_sql) as copy,
    ):
        copy.set_types(["bigint", "varchar", "halfvec", "varchar", "timestamptz"])
        for item_id, vector in rows:
            copy.write_row(
                (item_id, "bench:x", copy_vector(vector, "halfvec"), "x", timezone.now())
            )

    assert has_index("embeddings_1536_hnsw_cosine")
    assert not Embedding1536.objects.exists()


def test_the_watchdog_builds_a_missing_index_again_and_logs_the_table(caplog) -> None:
    drop_hnsw_index(Embedding1536)

    with caplog.at_level(logging.WARNING, logger="embeddings.jobs"):
        jobs.recover_jobs()
        jobs.recover_jobs()  # nothing left to mend: no second line

    assert has_index("embeddings_1536_hnsw_cosine")
    assert [r.getMessage() for r in caplog.records] == [
        "Rebuilt the missing HNSW index of embeddings_1536"
    ]


def test_the_watchdog_leaves_a_table_a_live_job_is_loading_and_mends_it_once_the_job_dies(
    live_workers,
) -> None:
    films(3)
    job = jobs.create_job("movie", LOCAL_MODEL, "all")
    EmbeddingJob.objects.filter(pk=job.pk).update(
        status=EmbeddingJob.Status.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now()
    )
    drop_hnsw_index(Embedding384)  # as the job's bulk load into an empty table does
    live_workers.hold(job.pk)

    assert jobs.recover_jobs() == []
    assert not has_index()

    live_workers.stop()  # its worker dies mid-load
    assert wait_for(jobs.recover_jobs, timeout=5, what="the session to end") == [job.pk]
    assert has_index()
