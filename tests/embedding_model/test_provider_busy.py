"""A slow provider cannot take every thread of the web server: past PROVIDER_PAGE_CALLS calls
waiting on providers in one process, a page that needs one more says the provider is busy at
once, and the login page never waits at all."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from embeddings.models import Embedding768
from embeddings.providers import get_provider
from tests.conftest import make_item

pytestmark = pytest.mark.django_db(transaction=True)
SMALL = "openai:text-embedding-3-small"


def test_a_search_beyond_the_calls_a_server_gives_providers_is_told_busy_at_once(
    curator_client: Client, fake_openai: Any, settings: Any
) -> None:
    settings.PROVIDER_DEADLINE = 4.0
    settings.PROVIDER_PAGE_CALLS = 2
    fake_openai.fail_forever("drip:1")
    get_provider(SMALL)
    item = make_item(title="Heat")
    Embedding768.objects.create(
        item=item, model_key=f"{SMALL}@768", embedding=[0.1] * 768, source_hash="x"
    )
    url = reverse("embeddings:similar", args=[item.pk])
    query = {"model": f"{SMALL}@768", "q": "a heist in Los Angeles"}

    def search() -> None:
        try:
            curator_client.get(url, query)
        finally:
            connection.close()

    waiting = [threading.Thread(target=search) for _ in range(2)]
    for thread in waiting:
        thread.start()
    until = time.monotonic() + 5
    while fake_openai.in_flight < 2 and time.monotonic() < until:
        time.sleep(0.02)
    assert fake_openai.in_flight == 2

    started = time.perf_counter()
    page = curator_client.get(url, query).content.decode()
    busy_in = time.perf_counter() - started
    login = Client().get(reverse("admin:login"))
    for thread in waiting:
        thread.join(timeout=10)

    print(f"\nthird search while two drip: answered in {busy_in:.2f} s")
    assert busy_in < 1
    assert "page requests of this server are already waiting on providers" in page
    assert login.status_code == 200
    assert fake_openai.calls == 2  # the third never reached the provider
