"""Finding 2 (its job part) and finding 3 (a slow job called dead) of issue 11: a job held
FOR UPDATE on its batch's catalog rows for the whole provider call, so an admin's edit waited;
and a live job whose provider hung was called "interrupted: the worker stopped"."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from catalog.models import CatalogItem
from embeddings import jobs
from embeddings.models import EmbeddingJob
from tests.conftest import make_item
from tests.jobs.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
SMALL = "openai:text-embedding-3-small@768"
Status = EmbeddingJob.Status


@pytest.fixture
def job_in_a_thread() -> Iterator[Any]:
    threads: list[threading.Thread] = []

    def start(job_id: int) -> threading.Thread:
        def work() -> None:
            try:
                jobs.run_job(job_id)
            finally:
                connection.close()

        thread = threading.Thread(target=work)
        thread.start()
        threads.append(thread)
        return thread

    yield start
    for thread in threads:
        thread.join(timeout=60)


def test_an_edit_of_an_item_whose_batch_is_at_the_provider_does_not_wait(
    fake_openai: Any, job_in_a_thread: Any
) -> None:
    items = [make_item(title=f"Film {i}", overview=f"A keeper's log, page {i}.") for i in range(4)]
    fake_openai.script(["slow:3"])  # the first batch takes three seconds at the provider
    job = jobs.create_job("movie", SMALL, "all", batch_size=4)
    worker = job_in_a_thread(job.pk)
    wait_for(lambda: fake_openai.in_flight == 1, timeout=10, what="the batch at the provider")

    started = time.perf_counter()
    with transaction.atomic():
        # NOWAIT raises at once if the job held the rows, as FOR UPDATE did before.
        item = CatalogItem.objects.select_for_update(nowait=True).get(pk=items[0].pk)
        item.title = "Film 0 (edited)"
        item.save()
    edited_in = time.perf_counter() - started
    worker.join(timeout=30)

    assert edited_in < 1.0
    assert EmbeddingJob.objects.get(pk=job.pk).status == Status.COMPLETED


def test_a_job_waiting_on_a_hung_provider_reads_running_with_the_providers_error(
    fake_openai: Any, settings: Any, curator_client: Client, job_in_a_thread: Any
) -> None:
    settings.EMBEDDING_TIMEOUT = 1.0
    settings.EMBEDDING_MAX_RETRIES = 3
    fake_openai.fail_forever("slow:30")
    make_item(title="Heat", overview="A crew of thieves and the detective who hunts them.")
    job = jobs.create_job("movie", SMALL, "all", batch_size=2)
    worker = job_in_a_thread(job.pk)

    row = wait_for(
        lambda: "did not answer within 1 s" in (html := row_of(curator_client, job.pk)) and html,
        timeout=10,
        what="the provider's timeout on the row",
    )
    assert "Running" in row and "Interrupted" not in row and "worker stopped" not in row
    worker.join(timeout=30)

    finished = EmbeddingJob.objects.get(pk=job.pk)
    assert finished.failed == 1 and "did not answer within 1 s" in finished.last_error


def row_of(client: Client, job_id: int) -> str:
    url = reverse("embeddings:job_row", args=[job_id])
    return client.get(url, HTTP_HX_REQUEST="true").content.decode()
