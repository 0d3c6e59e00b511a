"""One probe and one way to read OLLAMA_HOST: the settings page, `embed_text`, the hourly
health check and `check_provider` agree on where a provider is and whether it answers."""

from __future__ import annotations

import socket
from io import StringIO
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from embeddings import tasks as schedules
from embeddings.models import EmbeddingSettings, HealthCheck

NOMIC = "ollama:nomic-embed-text"

pytestmark = pytest.mark.django_db


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _settings_page(client: Client) -> str:
    cache.clear()  # readiness keeps Ollama's answer for a minute
    return client.get(reverse("embeddings:embedding_model")).content.decode()


def _embed_text(*args: str) -> str:
    out = StringIO()
    call_command("embed_text", "Heat (1995).", "--model", NOMIC, *args, stdout=out)
    return out.getvalue()


def test_a_bare_ollama_host_is_reachable_for_the_settings_page_and_for_embed_text(
    fake_ollama: Any, settings: Any, admin_client_: Client
) -> None:
    settings.OLLAMA_HOST = fake_ollama.url.removeprefix("http://")

    page = _settings_page(admin_client_)
    printed = _embed_text()

    assert "Ollama not reachable" not in page
    assert "pulled" in page
    assert "dimensions  768" in printed
    assert [r.path for r in fake_ollama.requests] == ["/api/tags", "/api/embed"]


def test_a_bare_ollama_host_that_does_not_answer_is_named_alike_by_both(
    settings: Any, admin_client_: Client
) -> None:
    address = f"http://127.0.0.1:{_free_port()}"
    settings.OLLAMA_HOST = address.removeprefix("http://")
    settings.EMBEDDING_MAX_RETRIES = 0

    page = _settings_page(admin_client_)
    with pytest.raises(CommandError) as raised:
        _embed_text()

    # The page lets a long address wrap between its parts (<wbr>); the words are the same.
    assert f"Ollama not reachable at {address}" in page.replace("<wbr>", "")
    assert f"cannot connect to Ollama at {address}" in str(raised.value)


def test_the_health_check_and_check_provider_record_the_same_probe(
    fake_ollama: Any, fake_openai: Any
) -> None:
    EmbeddingSettings.objects.update_or_create(pk=1, defaults={"active_model_key": NOMIC})
    out = StringIO()

    scheduled = schedules.health_check()
    call_command("check_provider", stdout=out)

    assert scheduled.ok and scheduled.latency_ms
    assert out.getvalue().startswith(f"{NOMIC} answered in ")
    assert list(HealthCheck.objects.values_list("model_key", "ok")) == [(NOMIC, True)] * 2


def test_a_failed_probe_keeps_no_secret_in_the_record_or_the_message(
    fake_openai: Any, settings: Any
) -> None:
    secret = "sk-proj-" + "s3cr3t" * 6
    settings.OPENAI_API_KEY = secret
    EmbeddingSettings.objects.update_or_create(
        pk=1, defaults={"active_model_key": "openai:text-embedding-3-small"}
    )

    with pytest.raises(CommandError) as raised:
        call_command("check_provider")
    scheduled = schedules.health_check()

    assert "rejected the API key" in str(raised.value)
    for text in [
        str(raised.value),
        scheduled.error,
        *HealthCheck.objects.values_list("error", flat=True),
    ]:
        assert secret not in text
    assert HealthCheck.objects.filter(ok=False).count() == 2
