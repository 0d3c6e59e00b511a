"""Provider keys typed into the page are write-only, and nothing changes on a key or model that
does not answer."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django_q.conf import Conf

from embeddings.models import (
    Embedding384,
    EmbeddingJob,
    EmbeddingSettings,
    HealthCheck,
    ProviderCredential,
    table_for,
)
from embeddings.providers.credentials import saved_values
from tests.conftest import make_item

pytestmark = pytest.mark.django_db

LOCAL = "local:all-MiniLM-L6-v2"
SMALL = "openai:text-embedding-3-small"
WRONG_KEY = "sk-wrong-key-that-openai-rejects-9876"


def _post(client: Client, name: str, data: dict[str, str]) -> str:
    response = client.post(reverse(f"embeddings:{name}"), data, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def test_a_wrong_key_shows_the_named_error_and_changes_nothing(
    role_clients: dict[str, Client], fake_openai: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    page = _post(role_clients["admin"], "embedding_connection", {"openai_api_key": WRONG_KEY})

    assert "OpenAI rejected the API key" in page
    assert "Nothing was saved." in page
    assert saved_values().get("openai_api_key", "") == ""
    assert WRONG_KEY not in page
    assert WRONG_KEY not in caplog.text


def test_a_key_that_works_is_saved_and_only_ever_shown_masked(
    role_clients: dict[str, Client], fake_openai: Any, settings: Any
) -> None:
    settings.OPENAI_API_KEY = ""  # only the key typed into the page can reach the fake

    page = _post(
        role_clients["admin"], "embedding_connection", {"openai_api_key": fake_openai.api_key}
    )

    assert "Connection settings saved for OpenAI." in page
    assert "answered in" in page
    assert saved_values().get("openai_api_key", "") == fake_openai.api_key
    assert fake_openai.api_key not in page
    assert f"{fake_openai.api_key[:3]}…{fake_openai.api_key[-4:]}" in page
    assert 'name="openai_api_key" value=""' in page


def test_a_blank_key_field_keeps_the_stored_key_and_clearing_removes_it(
    role_clients: dict[str, Client],
) -> None:
    ProviderCredential.store({"google_api_key": "AIzaStoredGoogleKey0123456789"})

    _post(role_clients["admin"], "embedding_connection", {"google_api_key": ""})
    assert saved_values().get("google_api_key", "") == "AIzaStoredGoogleKey0123456789"

    _post(role_clients["admin"], "embedding_connection", {"clear_google_api_key": "1"})
    assert saved_values().get("google_api_key", "") == ""


def test_a_malformed_host_is_refused_and_nothing_is_saved(role_clients: dict[str, Client]) -> None:
    page = _post(role_clients["admin"], "embedding_connection", {"ollama_host": "not a url"})

    assert "Ollama host: enter a URL" in page
    assert saved_values().get("ollama_host", "") == ""


def test_a_new_ollama_host_is_saved_once_it_answers(
    role_clients: dict[str, Client], fake_ollama: Any
) -> None:
    page = _post(role_clients["admin"], "embedding_connection", {"ollama_host": fake_ollama.url})

    assert "ollama:nomic-embed-text answered in" in page
    assert saved_values().get("ollama_host", "") == fake_ollama.url
    assert "pulled" in page


def test_a_valid_openai_key_is_saved_though_ollamas_model_is_not_pulled(
    role_clients: dict[str, Client], fake_openai: Any, fake_ollama: Any, settings: Any
) -> None:
    settings.OPENAI_API_KEY = ""  # only the key typed into the page can reach the fake
    settings.OLLAMA_HOST = ""
    fake_ollama.pulled.clear()

    page = _post(
        role_clients["admin"],
        "embedding_connection",
        {"openai_api_key": fake_openai.api_key, "ollama_host": fake_ollama.url},
    )

    assert "Connection settings saved for OpenAI." in page
    assert f"{SMALL} answered in" in page
    assert "Ollama: connection failed:" in page
    assert "try pulling it first" in page or "ollama pull" in page
    assert "Its settings were not saved." in page
    assert "Nothing was saved." not in page
    saved = saved_values()
    assert saved.get("openai_api_key", "") == fake_openai.api_key
    assert saved.get("ollama_host", "") == ""
    assert fake_openai.api_key not in page


def test_a_malformed_host_does_not_cost_a_valid_key_of_another_provider(
    role_clients: dict[str, Client], fake_openai: Any, settings: Any
) -> None:
    settings.OPENAI_API_KEY = ""

    page = _post(
        role_clients["admin"],
        "embedding_connection",
        {"openai_api_key": fake_openai.api_key, "ollama_host": "not a url"},
    )

    assert "Ollama host: enter a URL" in page
    assert "Not saved: Ollama." in page
    assert "Connection settings saved for OpenAI." in page
    assert saved_values().get("openai_api_key", "") == fake_openai.api_key
    assert saved_values().get("ollama_host", "") == ""


def test_test_connection_shows_the_latency_and_records_a_health_check(
    role_clients: dict[str, Client], fake_openai: Any
) -> None:
    page = _post(role_clients["admin"], "embedding_test_connection", {"model": SMALL})

    assert f"Connection to {SMALL} works: answered in" in page
    check = HealthCheck.objects.get()
    assert (check.model_key, check.ok) == (SMALL, True)


def test_test_connection_names_the_error_without_the_key(
    role_clients: dict[str, Client], fake_openai: Any, settings: Any
) -> None:
    settings.OPENAI_API_KEY = WRONG_KEY

    page = _post(role_clients["admin"], "embedding_test_connection", {"model": SMALL})

    assert f"Connection to {SMALL} failed: OpenAI rejected the API key" in page
    assert WRONG_KEY not in page
    assert not HealthCheck.objects.get().ok


def test_confirming_a_model_with_a_wrong_key_changes_nothing(
    role_clients: dict[str, Client], fake_openai: Any, settings: Any
) -> None:
    make_item()
    settings.OPENAI_API_KEY = WRONG_KEY

    page = _post(role_clients["admin"], "embedding_model_confirm", {"model": SMALL})

    assert "OpenAI rejected the API key" in page
    assert "Nothing was changed." in page
    assert EmbeddingSettings.load().building_model_key == ""
    assert not EmbeddingJob.objects.exists()


def test_confirm_starts_one_job_per_kind_and_a_double_click_starts_no_more(
    role_clients: dict[str, Client], fake_openai: Any
) -> None:
    make_item(title="Heat")
    make_item(title="Dark", kind="series")

    first = _post(role_clients["admin"], "embedding_model_confirm", {"model": SMALL})
    second = _post(role_clients["admin"], "embedding_model_confirm", {"model": SMALL})

    assert f"Building {SMALL}: 2 jobs started." in first
    assert f"Already under way: {SMALL} is being built." in second
    assert sorted(EmbeddingJob.objects.values_list("kind", "model_key")) == [
        ("movie", SMALL),
        ("series", SMALL),
    ]
    config = EmbeddingSettings.load()
    assert (config.active_model_key, config.building_model_key) == (LOCAL, SMALL)


def test_the_confirmation_page_shows_the_impact_and_the_warning(
    role_clients: dict[str, Client],
) -> None:
    make_item()

    response = role_clients["admin"].get(
        reverse("embeddings:embedding_model_choose"),
        {"model": "openai:text-embedding-3-large", "dimensions": "1024"},
    )

    page = response.content.decode()
    assert "Switch to openai:text-embedding-3-large@1024?" in page
    assert "Every item of the catalog must be embedded again" in page
    assert "table embeddings_1024" in page
    assert 'name="model" value="openai:text-embedding-3-large@1024"' in page


def test_a_complete_new_set_takes_over_by_itself(
    role_clients: dict[str, Client], fake_openai: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Conf, "SYNC", True)  # the jobs run inside the request, as a worker would
    for item in (make_item(title="Heat"), make_item(title="Dark", kind="series")):
        Embedding384.objects.create(
            item=item, model_key=LOCAL, source_hash="x", embedding=[1.0] + [0.0] * 383
        )

    page = _post(role_clients["admin"], "embedding_model_confirm", {"model": SMALL})

    assert f"<strong>Previous model:</strong> <code>{LOCAL}</code>" in page
    assert "Being built:" not in page
    config = EmbeddingSettings.load()
    assert (config.active_model_key, config.building_model_key, config.previous_model_key) == (
        SMALL,
        "",
        LOCAL,
    )
    assert table_for(1536).objects.for_model(SMALL).count() == 2
