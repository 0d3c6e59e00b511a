"""Finding 3 of issue 11: a rate-limit burst failed a job. A 429 that says how long to wait is
back-pressure: the job waits what the provider asked, stays batched, and fails nothing."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from embeddings import jobs
from embeddings.models import Embedding768, EmbeddingJob, JobFailure
from embeddings.providers import get_provider
from tests.conftest import make_item

pytestmark = pytest.mark.django_db(transaction=True)
Status = EmbeddingJob.Status
SMALL = "openai:text-embedding-3-small@768"
BURST = 20


def films(n: int, prefix: str, kind: str = "movie") -> None:
    for i in range(n):
        make_item(
            kind=kind, title=f"{prefix} {i}", overview=f"A lighthouse keeper's log, page {i}."
        )


def timed_job(kind: str) -> tuple[EmbeddingJob, float]:
    job = jobs.create_job(kind, SMALL, "stale", batch_size=4)
    started = time.perf_counter()
    status = jobs.run_job(job.pk)
    elapsed = time.perf_counter() - started
    job.refresh_from_db()
    assert status == job.status
    return job, elapsed


def test_a_burst_of_429s_costs_the_job_the_waits_asked_for_and_fails_no_item(
    fake_openai, settings
) -> None:
    films(12, "movie")
    films(12, "series", kind="series")
    get_provider(SMALL).embed(["warm the tokenizer up, so the clean run is representative"])
    clean, clean_time = timed_job("movie")
    assert (clean.status, clean.done, clean.failed) == (Status.COMPLETED, 12, 0)
    calls_clean = fake_openai.calls

    fake_openai.script(["429:retry-after=1"] * BURST)
    burst, burst_time = timed_job("series")

    asked = BURST * 1.0
    print(
        f"\n429 burst: {BURST} x Retry-After 1 s asked {asked:.0f} s; clean run {clean_time:.2f} s, "
        f"burst run {burst_time:.2f} s, extra {burst_time - clean_time:.2f} s"
    )
    assert (burst.status, burst.done, burst.failed) == (Status.COMPLETED, 12, 0)
    assert not JobFailure.objects.exists()
    assert burst.failed_batches_in_row == 0
    # Still three batches of four: the 429s were retried whole, never split item by item.
    assert fake_openai.calls - calls_clean == BURST + 3
    assert all(len(r.inputs) == 4 for r in fake_openai.requests[calls_clean:])
    # The waits the provider asked for, plus at most a tenth of jitter, and nothing more.
    assert asked <= burst_time <= asked * 1.1 + clean_time + 2
    # The provider's own words stay on the job, not a generic "batch failed".
    assert "Rate limit reached for text-embedding-3-small" in burst.last_error
    assert Embedding768.objects.for_model(SMALL).count() == 24


def test_the_heartbeat_and_the_providers_error_show_while_a_batch_waits(fake_openai) -> None:
    films(2, "movie")
    fake_openai.script(["429:retry-after=1"] * 3)
    job = jobs.create_job("movie", SMALL, "stale", batch_size=2)

    def work() -> None:
        try:
            jobs.run_job(job.pk)
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    seen: set[tuple[object, str]] = set()

    worker.start()
    while worker.is_alive():
        seen.add(EmbeddingJob.objects.values_list("heartbeat_at", "last_error").get(pk=job.pk))
        time.sleep(0.05)
    connection.close()

    waiting = {beat for beat, error in seen if "Rate limit reached" in error}
    # A new heartbeat at each of the three waits, each with the provider's words (the last
    # words stay after the batch's own heartbeat too).
    assert len(waiting) >= 3, seen
    assert EmbeddingJob.objects.get(pk=job.pk).status == Status.COMPLETED
