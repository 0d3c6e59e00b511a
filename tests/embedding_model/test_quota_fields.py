"""A provider's requests and tokens a minute on the connection form: kept without asking the
provider (they are ours alone), read from the environment when the page has none, and a value
that is not a whole number named."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from embeddings.providers import get_provider
from embeddings.providers.credentials import saved_values

pytestmark = pytest.mark.django_db


def test_a_limit_is_kept_without_a_probe_and_paces_the_provider(
    admin_client_: Client, fake_openai: Any
) -> None:
    response = admin_client_.post(
        reverse("embeddings:embedding_connection"),
        {"openai_requests_per_minute": "3000", "voyage_tokens_per_minute": "1000000"},
        follow=True,
    )

    assert "Connection settings saved for" in response.content.decode()
    assert fake_openai.calls == 0
    values = saved_values()
    assert values["openai_requests_per_minute"] == "3000"
    assert values["voyage_tokens_per_minute"] == "1000000"
    limits = get_provider("openai:text-embedding-3-small").limits()
    assert (limits.requests_per_minute, limits.tokens_per_minute) == (3000, None)
    page = admin_client_.get(reverse("embeddings:embedding_model")).content.decode()
    assert 'name="openai_requests_per_minute" value="3000"' in page
    assert 'placeholder="blank: use COHERE_REQUESTS_PER_MINUTE"' in page


def test_a_limit_from_the_environment_is_used_when_the_page_has_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COHERE_TOKENS_PER_MINUTE", "250000")

    limits = get_provider("cohere:embed-v4.0").limits()

    assert (limits.requests_per_minute, limits.tokens_per_minute) == (None, 250_000)


def test_a_limit_that_is_not_a_whole_number_is_named_and_nothing_is_kept(
    admin_client_: Client,
) -> None:
    response = admin_client_.post(
        reverse("embeddings:embedding_connection"),
        {"openai_requests_per_minute": "lots", "google_requests_per_minute": "0"},
        follow=True,
    )

    page = response.content.decode()
    assert "OpenAI requests a minute: enter a whole number, such as 3000." in page
    assert "Google requests a minute: from 1 to 1,000,000,000, or blank for none." in page
    assert "openai_requests_per_minute" not in saved_values()
    assert "google_requests_per_minute" not in saved_values()
