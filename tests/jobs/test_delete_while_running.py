"""Finding 7 of issue 11: deleting a model's set while a job wrote to it was allowed; the job
wrote the rows again and ended "378 done of 278", its tokens and cost counted twice. The delete
is now refused while a job is writing, and says which job to cancel."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from embeddings import jobs
from embeddings.models import Embedding768, EmbeddingJob
from tests.conftest import make_item
from tests.jobs.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
SMALL = "openai:text-embedding-3-small@768"


def test_deleting_a_set_a_running_job_writes_is_refused_and_the_counts_stay_true(
    admin_client_: Client, fake_openai
) -> None:
    for i in range(8):
        make_item(title=f"Film {i}", overview=f"A lighthouse keeper's log, page {i}.")
    fake_openai.fail_forever("slow:0.4")  # every answer takes a while: the job is mid-run
    job = jobs.create_job("movie", SMALL, "all", batch_size=2)

    def work() -> None:
        try:
            jobs.run_job(job.pk)
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    wait_for(lambda: Embedding768.objects.for_model(SMALL).exists(), timeout=30, what="a batch")

    page = admin_client_.post(
        reverse("embeddings:storage_delete"), {"model": SMALL}, follow=True
    ).content.decode()
    stored_after_refusal = Embedding768.objects.for_model(SMALL).count()
    worker.join(timeout=60)

    assert f"Not deleted: job #{job.pk} is writing {SMALL}" in page
    assert stored_after_refusal >= 2
    job.refresh_from_db()
    assert (job.status, job.done, job.total) == (EmbeddingJob.Status.COMPLETED, 8, 8)
    assert len(fake_openai.inputs) == 8  # nothing embedded (or paid for) twice
    assert Embedding768.objects.for_model(SMALL).count() == 8

    finished = admin_client_.post(
        reverse("embeddings:storage_delete"), {"model": SMALL}, follow=True
    ).content.decode()
    assert f"Deleted 8 vectors of {SMALL}" in finished
