"""Finding 9 of issue 11 (the jobs page): it ran 52 queries, 40 of them one per failed item, and
an UPDATE on every GET and every one-second poll. It now reads a fixed number of queries and
writes nothing."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from embeddings.models import EmbeddingJob, JobFailure
from tests.conftest import make_item
from tests.jobs.conftest import LOCAL_MODEL

pytestmark = pytest.mark.django_db
Status = EmbeddingJob.Status
HTMX = {"HX-Request": "true"}


def jobs_with_failures(count: int, failures: int) -> list[EmbeddingJob]:
    items = [make_item(title=f"Film {i}") for i in range(failures)]
    made = []
    for n in range(EmbeddingJob.objects.count(), EmbeddingJob.objects.count() + count):
        status = [Status.RUNNING, Status.FAILED, Status.COMPLETED][n % 3]
        job = EmbeddingJob.objects.create(
            kind="movie", model_key=f"{LOCAL_MODEL}-{n}", status=status, total=100,
            failed=failures, created_by=None,
        )  # fmt: skip
        JobFailure.objects.bulk_create(
            JobFailure(job=job, item=item, reason="refused") for item in items
        )
        made.append(job)
    return made


def captured(client: Client, url: str, headers: dict[str, str] | None = None) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, headers=headers).status_code == 200
    return [query["sql"] for query in queries]


def writes(sql: list[str]) -> list[str]:
    return [q for q in sql if q.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


def test_the_jobs_page_reads_the_same_queries_for_3_jobs_or_30_and_writes_nothing(
    curator_client: Client,
) -> None:
    jobs_with_failures(3, failures=40)
    curator_client.get(reverse("embeddings:jobs"))  # the first visit creates the settings row
    few = captured(curator_client, reverse("embeddings:jobs"))
    jobs_with_failures(27, failures=40)
    many = captured(curator_client, reverse("embeddings:jobs"))

    assert len(many) == len(few) <= 12, many
    assert writes(few) == writes(many) == []


def test_a_polled_row_reads_a_fixed_number_of_queries_and_writes_nothing(
    curator_client: Client,
) -> None:
    [job, *_] = jobs_with_failures(1, failures=40)
    curator_client.get(reverse("embeddings:jobs"))

    sql = captured(curator_client, reverse("embeddings:job_row", args=[job.pk]), HTMX)

    assert len(sql) <= 6, sql
    assert writes(sql) == []
