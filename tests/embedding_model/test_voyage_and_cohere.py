"""Voyage AI and Cohere on the settings page: their models under their labels with their prices,
what the catalog would cost with each, their keys on the connection form, and a key that works
kept and shown masked."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from embeddings.providers.credentials import saved_values
from embeddings.switching.tokens import refresh_token_counts
from embeddings.text import item_text
from tests.conftest import make_item

pytestmark = pytest.mark.django_db


def _page(client: Client) -> str:
    response = client.get(reverse("embeddings:embedding_model"))
    assert response.status_code == 200
    return response.content.decode()


def _row(page: str, key: str) -> str:
    return page[page.index(f'data-model="{key}"') :].split("</tr>")[0]


def _item_of_2000_estimated_tokens(title: str) -> None:
    """An item whose text is 8,000 characters: 2,000 tokens at four characters a token."""
    item = make_item(title=title, overview="")
    item.overview = "x" * (8000 - len(item_text(item)) - 1)  # and its joining space
    item.save()
    assert len(item_text(item)) == 8000


@pytest.mark.parametrize(
    ("key", "heading", "price", "catalog_cost", "ten_thousand"),
    [
        # 2 items of 2,000 tokens = 4,000 tokens; 10,000 items = 20M tokens.
        ("voyage:voyage-3-large", "Voyage AI", "$0.18 per 1M", "$0.0007", "10,000 items: $3.60"),
        ("voyage:voyage-3", "Voyage AI", "$0.06 per 1M", "$0.0002", "10,000 items: $1.20"),
        ("cohere:embed-v4.0", "Cohere", "$0.12 per 1M", "$0.0005", "10,000 items: $2.40"),
        # Cut at 512 tokens: 1,024 tokens; 10,000 items = 5.12M tokens.
        ("cohere:embed-english-v3.0", "Cohere", "$0.10 per 1M", "$0.0001", "10,000 items: $0.51"),
    ],
)
def test_each_model_is_listed_under_its_provider_with_its_price_and_estimates(
    admin_client_: Client, key: str, heading: str, price: str, catalog_cost: str, ten_thousand: str
) -> None:
    _item_of_2000_estimated_tokens("Heat")
    _item_of_2000_estimated_tokens("Ronin")
    refresh_token_counts()

    page = _page(admin_client_)

    assert f'<th colspan="8" scope="rowgroup">{heading}</th>' in page
    row = _row(page, key)
    assert price in row
    assert catalog_cost in row
    assert ten_thousand in row
    assert "estimate" in row  # their tokenizers are not available offline
    assert "no API key" in row


def test_embed_v4_offers_its_1024_size_and_english_v3_names_its_cut(admin_client_: Client) -> None:
    _item_of_2000_estimated_tokens("Heat")
    refresh_token_counts()

    page = _page(admin_client_)

    assert '<option value="1024">1024</option>' in _row(page, "cohere:embed-v4.0")
    assert "1 text cut" in _row(page, "cohere:embed-english-v3.0")
    assert "no text cut" in _row(page, "voyage:voyage-3-large")


def test_their_keys_and_addresses_are_fields_of_the_connection_form(
    admin_client_: Client, monkeypatch: pytest.MonkeyPatch, settings
) -> None:
    page = _page(admin_client_)
    for name, label, env in (
        ("voyage_api_key", "Voyage AI API key", "VOYAGE_API_KEY"),
        ("cohere_api_key", "Cohere API key", "COHERE_API_KEY"),
    ):
        assert f'<label for="id_{name}">{label}</label>' in page
        assert f'type="password" id="id_{name}" name="{name}"' in page
        assert f"not set ({env})" in page
    assert 'placeholder="blank: use VOYAGE_BASE_URL"' in page
    assert 'placeholder="blank: use COHERE_BASE_URL"' in page

    settings.COHERE_API_KEY = "co-from-the-environment-1234"
    page = _page(admin_client_)

    assert "API key from the environment" in _row(page, "cohere:embed-v4.0")
    assert "co-…1234" in page
    assert "co-from-the-environment-1234" not in page


def test_a_voyage_key_that_answers_is_kept_and_shown_masked(
    admin_client_: Client, fake_voyage, settings
) -> None:
    settings.VOYAGE_API_KEY = ""

    response = admin_client_.post(
        reverse("embeddings:embedding_connection"),
        {"voyage_api_key": fake_voyage.api_key},
        follow=True,
    )

    page = response.content.decode()
    assert "voyage:voyage-3-large answered in" in page
    assert saved_values()["voyage_api_key"] == fake_voyage.api_key
    page = _page(admin_client_)
    assert fake_voyage.api_key not in page
    assert "API key from the page" in _row(page, "voyage:voyage-3-large")


def test_a_cohere_key_it_rejects_is_not_kept(admin_client_: Client, fake_cohere, settings) -> None:
    settings.COHERE_API_KEY = ""

    response = admin_client_.post(
        reverse("embeddings:embedding_connection"),
        {"cohere_api_key": "co-a-key-cohere-does-not-know-99"},
        follow=True,
    )

    page = response.content.decode()
    assert "Cohere rejected the API key" in page
    assert "co-a-key-cohere-does-not-know-99" not in page
    assert "cohere_api_key" not in saved_values()
