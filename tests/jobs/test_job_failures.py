"""Jobs against a paid provider that misbehaves: a loopback OpenAI speaking the real protocol."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.urls import reverse

from embeddings import jobs
from embeddings.models import Embedding768, Embedding3072, EmbeddingJob, JobFailure
from tests.conftest import make_item

pytestmark = pytest.mark.django_db
Status = EmbeddingJob.Status
SMALL = "openai:text-embedding-3-small@768"
LARGE = "openai:text-embedding-3-large"


def films(n: int, overview: str = "A lighthouse keeper finds a message in a bottle.") -> None:
    for i in range(n):
        make_item(title=f"Film {i}", overview=f"{overview} ({i})")


def test_a_burst_of_429s_without_retry_after_backs_off_and_the_job_completes(
    fake_openai, settings
) -> None:
    films(6)
    # More 429s in a row than EMBEDDING_MAX_RETRIES (2 here), none saying how long to wait.
    fake_openai.script(["429"] * 8 + ["ok", "429", "429", "429", "429"])
    job = jobs.create_job("movie", SMALL, "stale", batch_size=2)

    assert jobs.run_job(job.pk) == Status.COMPLETED
    job.refresh_from_db()
    assert (job.done, job.failed, job.skipped) == (6, 0, 0)
    assert job.failed_batches_in_row == 0
    assert Embedding768.objects.for_model(SMALL).count() == 6
    assert not JobFailure.objects.exists()


def test_429s_without_end_fail_the_batch_once_the_waits_reach_their_bound(
    fake_openai, settings
) -> None:
    settings.EMBEDDING_RATE_LIMIT_WAIT = 0.5
    films(2)
    fake_openai.fail_forever(429)
    job = jobs.create_job("movie", SMALL, "stale", batch_size=2)

    assert jobs.run_job(job.pk) == Status.COMPLETED
    job.refresh_from_db()
    assert (job.done, job.failed) == (0, 2)
    assert "rate limiting" in job.last_error


def test_a_provider_that_fails_forever_stops_the_job_as_failed_within_the_bound(
    fake_openai, settings
) -> None:
    films(20)
    fake_openai.fail_forever(500)
    job = jobs.create_job("movie", SMALL, "stale", batch_size=2)

    assert jobs.run_job(job.pk) == Status.FAILED

    job.refresh_from_db()
    attempts = 1 + settings.EMBEDDING_MAX_RETRIES
    assert fake_openai.calls == settings.JOB_MAX_FAILED_BATCHES * attempts
    assert job.failed == settings.JOB_MAX_FAILED_BATCHES * 2 and job.done == 0
    assert f"{settings.JOB_MAX_FAILED_BATCHES} batches failed in a row" in job.last_error
    assert "OpenAI answered HTTP 500" in job.last_error
    assert fake_openai.api_key not in job.last_error
    assert JobFailure.objects.filter(job=job).count() == job.failed


def test_the_spending_cap_stops_a_paid_job_before_it_spends_more(fake_openai) -> None:
    # About 4,000 tokens an item at $0.13 a million: each batch of 4 costs about $0.002.
    films(20, overview="lighthouse " * 4000)
    job = jobs.create_job("movie", LARGE, "stale", batch_size=4, spending_cap_usd="0.01")

    assert jobs.run_job(job.pk) == Status.CANCELLED

    job.refresh_from_db()
    assert "spending cap of $0.01" in job.last_error
    assert 0 < job.cost_usd <= Decimal("0.01")
    assert 0 < job.done < 20 and job.done % 4 == 0
    assert len(fake_openai.inputs) == job.done
    assert job.tokens_used > 4000 * job.done
    assert Embedding3072.objects.for_model(LARGE).count() == job.done


def test_a_batch_whose_answer_drips_fails_at_the_timeout_with_a_named_message(
    fake_openai, settings
) -> None:
    settings.EMBEDDING_TIMEOUT = 1.0
    films(2)
    fake_openai.fail_forever("drip:0.2")
    job = jobs.create_job("movie", SMALL, "stale", batch_size=2)

    started = time.perf_counter()
    jobs.run_job(job.pk)
    elapsed = time.perf_counter() - started

    job.refresh_from_db()
    attempts = 1 + settings.EMBEDDING_MAX_RETRIES
    print(f"\na dripping batch, {attempts} attempts of 1 s: failed after {elapsed:.1f} s")
    assert (job.done, job.failed) == (0, 2)
    assert "OpenAI did not answer within 1 s" in job.last_error
    assert fake_openai.calls == attempts
    assert elapsed < attempts * 1.0 + 3


def test_a_job_stopped_at_its_cap_resumes_with_a_higher_cap_given_by_staff_and_finishes(
    fake_openai, staff_client, curator_client
) -> None:
    films(40, overview="lighthouse " * 4000)  # about $0.021 in all
    job = jobs.create_job("movie", LARGE, "stale", batch_size=4, spending_cap_usd="0.02")
    assert jobs.run_job(job.pk) == Status.CANCELLED
    capped = EmbeddingJob.objects.get(pk=job.pk)
    assert capped.cost_usd > Decimal("0.01")  # so a new cap of $0.01 is below what was spent
    resume = reverse("embeddings:job_resume", args=[job.pk])

    row = row_html(staff_client, job.pk)
    assert "Stopped at the spending cap of $0.02" in row
    assert ">Stopped at the cap</span>" in row and "Cancelled" not in row  # nobody cancelled it
    assert 'name="spending_cap_usd"' in row and "Resume</button>" in row
    assert curator_client.post(resume, {"spending_cap_usd": "1"}).status_code == 403

    refusals = {
        "": "give a higher cap to resume it",
        "0.01": f"A new cap must be above the ${capped.cost_usd:.4f} job #{job.pk} has spent",
        "0.001": "A spending cap is in whole cents",
        "lots": "The spending cap must be an amount in dollars.",
    }
    for cap, message in refusals.items():
        answer = staff_client.post(resume, {"spending_cap_usd": cap}, HTTP_HX_REQUEST="true")
        assert message in answer.content.decode()
        assert EmbeddingJob.objects.get(pk=job.pk).status == Status.CANCELLED

    answer = staff_client.post(resume, {"spending_cap_usd": "1.00"}, HTTP_HX_REQUEST="true")

    assert "Queued" in answer.content.decode()
    assert jobs.run_job(job.pk) == Status.COMPLETED
    done = EmbeddingJob.objects.get(pk=job.pk)
    assert (done.done, done.failed, done.spending_cap_usd) == (40, 0, Decimal("1.00"))
    assert capped.cost_usd < done.cost_usd <= Decimal("1.00")
    assert Embedding3072.objects.for_model(LARGE).count() == 40
    assert len(fake_openai.inputs) == 40  # nothing paid for twice
    assert 'name="spending_cap_usd"' not in row_html(staff_client, job.pk)


def row_html(client, job_id: int) -> str:
    url = reverse("embeddings:job_row", args=[job_id])
    return client.get(url, HTTP_HX_REQUEST="true").content.decode()
