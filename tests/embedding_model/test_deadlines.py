"""Finding 2 of issue 11: "Test connection" against a hung provider held a web thread 252 s and
then called it working; a curator's free-text search waited as long as the provider did. Every
web request that calls a provider now has a total deadline, and says so when it runs out."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from embeddings.models import Embedding768, HealthCheck
from embeddings.providers import get_provider
from tests.conftest import make_item

pytestmark = pytest.mark.django_db
SMALL = "openai:text-embedding-3-small"


# How a stuck provider behaves: accepts the connection and never answers (within 30 s), or
# answers at once and then sends its body a byte every quarter second, so that no gap between
# bytes is long enough for a per-read timeout to notice.
STUCK = {"hung": "slow:30", "dripping": "drip:0.25"}


@pytest.fixture(params=sorted(STUCK))
def stuck_openai(request: pytest.FixtureRequest, fake_openai: Any, settings: Any) -> Any:
    settings.PROVIDER_DEADLINE = 1.0
    settings.EMBEDDING_TIMEOUT = 60.0  # the provider's own timeout is far longer than a page's
    fake_openai.fail_forever(STUCK[request.param])
    get_provider(SMALL)  # the first use in a process imports the client library (2 s here)
    return fake_openai


def test_test_connection_against_a_stuck_provider_answers_within_the_deadline(
    admin_client_: Client, stuck_openai: Any
) -> None:
    started = time.perf_counter()
    response = admin_client_.post(reverse("embeddings:embedding_test_connection"), {"model": SMALL})
    elapsed = time.perf_counter() - started

    print(f"\ntest connection against a stuck provider: {elapsed:.2f} s (deadline 1 s)")
    assert elapsed < 2, f"the request waited {elapsed:.1f} s"
    page = admin_client_.get(response["Location"]).content.decode()
    assert f"Connection to {SMALL} failed" in page
    assert "no answer within the 1 s a page waits for a provider" in page
    assert "works" not in page
    assert HealthCheck.objects.get().ok is False


def test_a_free_text_search_against_a_stuck_provider_answers_within_the_deadline(
    curator_client: Client, stuck_openai: Any
) -> None:
    item = make_item(title="Heat")
    Embedding768.objects.create(
        item=item, model_key=f"{SMALL}@768", embedding=[0.1] * 768, source_hash="x"
    )

    started = time.perf_counter()
    response = curator_client.get(
        reverse("embeddings:similar", args=[item.pk]),
        {"model": f"{SMALL}@768", "q": "a heist in Los Angeles"},
    )
    elapsed = time.perf_counter() - started

    print(f"\nfree-text search against a stuck provider: {elapsed:.2f} s (deadline 1 s)")
    assert response.status_code == 200
    assert elapsed < 2.5, f"the page waited {elapsed:.1f} s"
    assert "no answer within the 1 s a page waits for a provider" in response.content.decode()
