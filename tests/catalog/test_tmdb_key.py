"""The TMDb key on the settings page's connection form: tested before it is kept, stored
encrypted, shown masked, and used by the sync when the environment has none."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from catalog.models import CatalogItem
from catalog.tmdb.control import today
from embeddings.providers.credentials import saved_values
from tests.conftest import make_item
from tests.fakes.tmdb_server import FakeTMDb, movie

pytestmark = pytest.mark.django_db

SAVE = "embeddings:embedding_connection"
PAGE = "embeddings:embedding_model"


def save(client: Client, data: dict[str, str]) -> str:
    return client.post(reverse(SAVE), data, follow=True).content.decode()


def test_a_tmdb_key_saved_on_the_form_is_tested_stored_encrypted_and_never_shown(
    admin_client_: Client, fake_tmdb: FakeTMDb, settings: Any
) -> None:
    settings.TMDB_API_KEY = ""

    page = save(admin_client_, {"tmdb_api_key": fake_tmdb.api_key})

    assert (
        "Connection settings saved for TMDb (content sync). TMDb (content sync) answered in" in page
    )
    assert [r.path for r in fake_tmdb.requests] == ["/3/authentication"]
    assert saved_values()["tmdb_api_key"] == fake_tmdb.api_key
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT value FROM embeddings_providercredential WHERE name = 'tmdb_api_key'"
        )
        (stored,) = cursor.fetchone()
    assert fake_tmdb.api_key not in stored
    shown = admin_client_.get(reverse(PAGE)).content.decode()
    assert "TMDb API key or read access token" in shown
    assert "012…cdef" in shown
    assert fake_tmdb.api_key not in shown


def test_a_wrong_tmdb_key_is_refused_and_nothing_is_saved(
    admin_client_: Client, fake_tmdb: FakeTMDb, settings: Any
) -> None:
    settings.TMDB_API_KEY = ""
    wrong = "f" * 32

    page = save(admin_client_, {"tmdb_api_key": wrong})

    assert "TMDb (content sync): connection failed: TMDb refused the key: Invalid API key" in page
    assert "Its settings were not saved. Nothing was saved." in page
    assert wrong not in page
    assert "tmdb_api_key" not in saved_values()


def test_the_sync_uses_the_key_saved_on_the_form(fake_tmdb: FakeTMDb, settings: Any) -> None:
    settings.TMDB_API_KEY = ""
    fake_tmdb.save_to_settings_row()
    fake_tmdb.add(movie(11, overview="Via the saved key."), changed=today())
    make_item(tmdb_id=11, title="Film 11")

    call_command("sync_catalog", "--source", "tmdb", "--no-progress", stdout=StringIO())

    assert CatalogItem.objects.get(tmdb_id=11).overview == "Via the saved key."
