"""A provider is its class plus its registry lines: one defined here, registered as a module of
embeddings/providers/ would be, shows on the settings page with its label, its readiness and an
estimate, and gets its key field in the connection form, where a key it accepts is kept."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client
from django.urls import reverse

from embeddings.providers import PROVIDERS, MissingCredentials, Provider
from embeddings.providers.credentials import CredentialField, credential, saved_values
from embeddings.registry import MODELS, RECOMMENDED, ModelSpec
from tests.conftest import make_item

pytestmark = pytest.mark.django_db

API_KEY = CredentialField("parrot_api_key", "Parrot API key", secret=True)
BASE_URL = CredentialField("parrot_base_url", "Parrot base URL", default="https://parrot.test/v1")
KEY = "sk-parrot-key-typed-on-the-page-0042"


class ParrotProvider(Provider):
    """Vectors from each text's hash; it wants a key all the same, as a paid service would."""

    label = "Parrot Embeddings"
    credentials = (API_KEY, BASE_URL)
    throughput = 12.0

    def _embed_batch(self, texts: list[str], *, query: bool) -> list[list[float]]:
        if not credential(API_KEY).value:
            raise MissingCredentials("Parrot API key is not set")
        return [_vector(text, self.dimensions) for text in texts]


def _vector(text: str, dimensions: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [digest[i % len(digest)] + 1.0 for i in range(dimensions)]


SPEC = ModelSpec(
    "parrot", "parrot-embed-1", 384, 512, Decimal("0.05"), "A provider defined by a test.",
    RECOMMENDED,
)  # fmt: skip


@pytest.fixture(autouse=True)
def parrot_registered() -> Iterator[None]:
    """Its registry lines: the class in PROVIDERS, its model in MODELS."""
    PROVIDERS["parrot"] = ParrotProvider
    MODELS.append(SPEC)
    yield
    MODELS.remove(SPEC)
    del PROVIDERS["parrot"]


def _page(client: Client) -> str:
    response = client.get(reverse("embeddings:embedding_model"))
    assert response.status_code == 200
    return response.content.decode()


def _row(page: str) -> str:
    return page[page.index(f'data-model="{SPEC.key}"') :].split("</tr>")[0]


def test_the_settings_page_lists_it_under_its_label_with_readiness_and_an_estimate(
    admin_client_: Client,
) -> None:
    make_item(title="Heat")
    make_item(title="Ronin")

    page = _page(admin_client_)

    assert 'scope="rowgroup">Parrot Embeddings</th>' in page
    row = _row(page)
    assert "<code>parrot-embed-1</code>" in row
    assert "no API key" in row
    assert "guess: 12 items/s, until a job of it finishes" in row


def test_its_key_is_a_field_of_the_connection_form_read_from_its_environment_variable(
    admin_client_: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = _page(admin_client_)
    assert '<label for="id_parrot_api_key">Parrot API key</label>' in page
    assert 'type="password" id="id_parrot_api_key" name="parrot_api_key"' in page
    assert "not set (PARROT_API_KEY)" in page
    assert (
        'name="parrot_base_url" value="" size="50" placeholder="blank: use PARROT_BASE_URL"' in page
    )

    monkeypatch.setenv("PARROT_API_KEY", "sk-parrot-from-the-environment-77")
    page = _page(admin_client_)

    assert "API key from the environment" in _row(page)
    assert "sk-…t-77" in page


def test_a_key_it_accepts_is_kept_and_only_ever_shown_masked(admin_client_: Client) -> None:
    response = admin_client_.post(
        reverse("embeddings:embedding_connection"), {"parrot_api_key": KEY}, follow=True
    )
    page = response.content.decode()

    assert "Connection settings saved for" in page
    assert f"{SPEC.key} answered in" in page
    assert saved_values()["parrot_api_key"] == KEY
    page = _page(admin_client_)
    assert KEY not in page
    assert "sk-…0042" in page
    assert "API key from the page" in _row(page)


def test_a_model_of_it_embeds_with_the_saved_key(admin_client_: Client) -> None:
    admin_client_.post(reverse("embeddings:embedding_connection"), {"parrot_api_key": KEY})

    response = admin_client_.post(
        reverse("embeddings:embedding_test_connection"), {"model": SPEC.key}, follow=True
    )

    assert f"Connection to {SPEC.key} works" in response.content.decode()


def test_a_malformed_address_in_its_environment_variable_is_named_by_the_system_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PARROT_BASE_URL", "ftp://parrot.test")

    with pytest.raises(SystemCheckError, match="PARROT_BASE_URL must be an http:// or https://"):
        call_command("check")
