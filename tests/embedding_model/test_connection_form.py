"""Findings 8 and 2 (its settings part) of issue 11: the connection form made the server fetch
any URL, including cloud metadata; a POST that left out the base URL reset it to OpenAI's and
sent the key there; a key longer than its column answered 500; and the probe ran inside the
settings row's lock, so a storage delete waited for a slow provider."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from embeddings.models import EmbeddingSettings, HealthCheck, ProviderCredential
from embeddings.providers.credentials import saved_values

SAVE = "embeddings:embedding_connection"


def save(client: Client, data: dict[str, str]) -> str:
    return client.post(reverse(SAVE), data, follow=True).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://metadata.google.internal/computeMetadata/v1",
        "http://[fd00:ec2::254]/latest",
        # Spelled as one number or in hexadecimal parts: not even a URL to the validator.
        "http://2852039166/v1",
        "http://0xa9.0xfe.0xa9.0xfe/v1",
    ],
)
def test_a_metadata_or_link_local_base_url_is_refused_before_anything_is_sent(
    admin_client_: Client, fake_openai: Any, url: str
) -> None:
    page = save(admin_client_, {"openai_base_url": url, "openai_api_key": fake_openai.api_key})

    assert "OpenAI base URL: not allowed" in page or "OpenAI base URL: enter a URL" in page
    assert saved_values().get("openai_base_url", "") == ""
    assert saved_values().get("openai_api_key", "") == ""
    assert not HealthCheck.objects.exists()  # no probe went out


@pytest.mark.django_db
def test_a_post_that_leaves_out_the_base_url_keeps_it_and_the_key_goes_there(
    admin_client_: Client, fake_openai: Any, settings: Any
) -> None:
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = ""  # so a reset would mean OpenAI's own address
    ProviderCredential.store({"openai_base_url": fake_openai.base_url})

    page = save(admin_client_, {"openai_api_key": fake_openai.api_key})

    assert "Connection settings saved for OpenAI." in page
    saved = saved_values()
    assert saved.get("openai_base_url", "") == fake_openai.base_url
    assert saved.get("openai_api_key", "") == fake_openai.api_key
    assert fake_openai.calls == 1


@pytest.mark.django_db
def test_a_key_longer_than_the_form_allows_is_a_form_error(admin_client_: Client) -> None:
    page = save(admin_client_, {"openai_api_key": "sk-" + "x" * 600})

    assert "OpenAI API key: at most 500 characters, not 603." in page
    assert saved_values().get("openai_api_key", "") == ""


@pytest.mark.django_db(transaction=True)
def test_the_probe_holds_no_lock_so_a_storage_delete_does_not_wait_for_it(
    admin_client_: Client, fake_openai: Any, settings: Any
) -> None:
    settings.PROVIDER_DEADLINE = 3.0
    fake_openai.fail_forever("slow:30")
    EmbeddingSettings.load()

    def post() -> None:
        try:
            save(admin_client_, {"openai_api_key": fake_openai.api_key})
        finally:
            connection.close()

    saving = threading.Thread(target=post)
    saving.start()
    deadline = time.monotonic() + 10
    while fake_openai.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake_openai.in_flight == 1, "the probe never reached the provider"

    # What a storage delete or a switch does first: lock the settings row. NOWAIT fails at
    # once if the probe held it.
    with transaction.atomic():
        EmbeddingSettings.objects.select_for_update(nowait=True).get(pk=1)
    saving.join(timeout=10)

    assert saved_values().get("openai_api_key", "") == ""  # the probe ran out: nothing saved
