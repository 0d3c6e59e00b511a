"""Pacing below a provider's quota: one budget in PostgreSQL for every worker, its limits set
on the connection form or in the environment, or learned from the provider's own headers; the
jobs page says when a job is held back, and /metrics counts what was sent."""

from __future__ import annotations

import re
import threading
import time
from itertools import pairwise
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from embeddings import jobs
from embeddings.models import EmbeddingJob, ServicePace
from embeddings.providers import ProviderTimeout, get_provider
from embeddings.workbench.loopback import Quota
from embeddings.worker_locks import hold_job
from reclio_admin.outbound.pacing import Announced, parse_duration
from tests.conftest import make_item

SMALL = "openai:text-embedding-3-small@768"


def _worker(job_id: int) -> None:
    try:
        jobs.run_job(job_id)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_two_workers_against_a_quota_of_120_a_minute_stay_under_it(
    fake_openai: Any, settings: Any
) -> None:
    fake_openai.quota = Quota(120)  # two a second at most, as OpenAI quantizes a minute's quota
    settings.OPENAI_REQUESTS_PER_MINUTE = 120
    for n in range(12):
        make_item(title=f"Film {n}", overview=f"A keeper's log, page {n}.")
    job = jobs.create_job("movie", SMALL, "all", batch_size=1)
    started = time.monotonic()

    workers = [threading.Thread(target=_worker, args=(job.pk,)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    job.refresh_from_db()
    assert (job.status, job.done) == (EmbeddingJob.Status.COMPLETED, 12)
    assert fake_openai.rate_limited == 0
    assert fake_openai.calls == 12
    # Unpaced, two workers would send these twelve in well under a second (and meet 429s).
    assert time.monotonic() - started >= 11 * 60 / 120 * 0.9


@pytest.mark.django_db
def test_a_limit_learned_from_the_headers_replaces_a_missing_setting(fake_openai: Any) -> None:
    fake_openai.quota = Quota(120)
    provider = get_provider(SMALL)

    provider.embed(["the first request: nothing is known yet"])

    pace = ServicePace.objects.get(name="openai")
    assert pace.learned_requests_per_minute == 120
    arrivals = []
    for n in range(3):
        provider.embed([f"request {n}"])
        arrivals.append(time.monotonic())
    gaps = [later - earlier for earlier, later in pairwise(arrivals)]
    assert all(gap >= 0.45 for gap in gaps), gaps  # 60 / 120, at 95 % of the quota
    assert fake_openai.rate_limited == 0
    assert ServicePace.objects.get(name="openai").requests_per_minute == 120


@pytest.mark.django_db
def test_a_lower_setting_wins_over_a_learned_limit(fake_openai: Any, settings: Any) -> None:
    fake_openai.quota = Quota(6000)
    settings.OPENAI_REQUESTS_PER_MINUTE = 60
    provider = get_provider(SMALL)

    provider.embed(["learn the quota"])
    provider.embed(["and be held back by the setting"])

    assert ServicePace.objects.get(name="openai").requests_per_minute == 60
    with pytest.raises(ProviderTimeout, match="OpenAI's quota allows the next request in"):
        provider.within(0.5).embed(["a page does not wait a second for a slot"])


def test_openai_reset_times_and_an_exhausted_quota_are_read() -> None:
    assert parse_duration("6m0s") == 360
    assert parse_duration("20ms") == pytest.approx(0.02)
    assert parse_duration("1h2m3.5s") == pytest.approx(3723.5)
    assert parse_duration("soon") is None
    announced = Announced.read(
        {
            "x-ratelimit-limit-requests": "3000",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "1.5s",
            "x-ratelimit-limit-tokens": "1000000",
        }
    )
    assert (announced.requests_per_minute, announced.tokens_per_minute) == (3000, 1_000_000)
    assert announced.hold_off == 1.5


@pytest.mark.django_db
def test_the_jobs_page_says_a_running_job_is_paced(
    fake_openai: Any, settings: Any, curator_client: Client
) -> None:
    settings.OPENAI_REQUESTS_PER_MINUTE = 120
    provider = get_provider(SMALL)
    for n in range(3):  # the second and third wait for their slots
        provider.embed([f"request {n}"])
    job = EmbeddingJob.objects.create(
        kind="movie", model_key=SMALL, status=EmbeddingJob.Status.RUNNING, total=10
    )
    hold_job(job.pk)  # a worker is on it, as this session

    page = curator_client.get(reverse("embeddings:jobs")).content.decode()
    row = curator_client.get(
        reverse("embeddings:job_row", args=[job.pk]), headers={"HX-Request": "true"}
    ).content.decode()

    for html in (page, row):
        assert re.search(r'class="job-paced[^"]*">paced: [1-3] of 120 requests a minute<', html)


@pytest.mark.django_db
def test_metrics_count_requests_by_status_tokens_and_latency(
    fake_openai: Any, admin_client_: Client, settings: Any
) -> None:
    settings.EMBEDDING_MAX_RETRIES = 1
    fake_openai.script(["429", "ok"])
    get_provider(SMALL).embed(["Heat (1995). A detective hunts a crew of thieves."])

    text = admin_client_.get("/metrics").content.decode()

    assert 'reclio_provider_requests_total{provider="openai",status="429"} 1.0' in text
    assert 'reclio_provider_requests_total{provider="openai",status="200"} 1.0' in text
    tokens = re.search(r'reclio_provider_tokens_total\{provider="openai"\} (\d+)', text)
    assert tokens is not None and int(tokens.group(1)) > 0
    assert 'reclio_provider_request_seconds_count{provider="openai"} 2.0' in text
    assert 'reclio_provider_request_seconds_bucket{le="+Inf",provider="openai"} 2.0' in text
