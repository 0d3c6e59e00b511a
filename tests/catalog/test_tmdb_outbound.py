"""TMDb is reached like the embedding providers: TMDB_BASE_URL keeps to the outbound-address
rule before anything is sent, a redirect is a named error that is never followed (the stand-in
metadata listener on 127.0.0.2 sees no connection, so no key went there), and a TMDb that drips
its answer is cut off at TMDB_TIMEOUT."""

from __future__ import annotations

import logging
import time
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from catalog.models import CatalogItem, SyncJob
from catalog.tmdb.control import today
from tests.conftest import make_item
from tests.fakes.listener import CountingListener
from tests.fakes.tmdb_server import FakeTMDb, movie

pytestmark = pytest.mark.django_db


def sync() -> str:
    out = StringIO()
    call_command("sync_catalog", "--source", "tmdb", "--no-progress", stdout=out)
    return out.getvalue()


def held_title(fake: FakeTMDb, tmdb_id: int, overview: str) -> None:
    fake.add(movie(tmdb_id, overview=overview), changed=today())
    make_item(tmdb_id=tmdb_id, title=f"Film {tmdb_id}")


def test_a_redirect_from_tmdb_fails_the_sync_by_name_and_nothing_reaches_its_target(
    fake_tmdb: FakeTMDb,
    forbidden_target: CountingListener,
    caplog: pytest.LogCaptureFixture,
) -> None:
    held_title(fake_tmdb, 8, "Never fetched.")
    fake_tmdb.fail_forever(f"redirect:{forbidden_target.url}/3/movie/changes")
    caplog.set_level(logging.DEBUG)

    with pytest.raises(CommandError) as failure:
        sync()

    message = str(failure.value)
    assert "TMDb answered with a redirect (HTTP 307) to http://127.0.0.2" in message
    assert "set TMDB_BASE_URL to the address it points at" in message
    assert forbidden_target.connections == 0
    assert fake_tmdb.calls == 1  # not retried: a redirect does not change by itself
    assert SyncJob.objects.get().status == "failed"
    assert fake_tmdb.api_key not in message + caplog.text + SyncJob.objects.get().last_error


def test_a_tmdb_base_url_with_a_backslash_is_refused_before_any_request(
    fake_tmdb: FakeTMDb, forbidden_target: CountingListener, settings: Any
) -> None:
    settings.TMDB_BASE_URL = f"{forbidden_target.url}\\@{fake_tmdb.url[7:]}"

    with pytest.raises(CommandError, match=r"TMDB_BASE_URL is not allowed: .*backslash"):
        sync()

    assert forbidden_target.connections == 0
    assert fake_tmdb.calls == 0


def test_a_tmdb_base_url_at_a_metadata_address_is_refused_before_any_request(
    fake_tmdb: FakeTMDb, settings: Any
) -> None:
    settings.TMDB_BASE_URL = "http://169.254.169.254"

    with pytest.raises(CommandError) as failure:
        sync()

    assert "TMDB_BASE_URL is not allowed: 169.254.169.254 is a link-local or cloud metadata" in (
        str(failure.value)
    )
    assert fake_tmdb.calls == 0
    assert fake_tmdb.api_key not in SyncJob.objects.get().last_error


def test_a_tmdb_key_is_not_tested_against_a_metadata_address(
    admin_client_: Client, fake_tmdb: FakeTMDb, settings: Any
) -> None:
    settings.TMDB_API_KEY = ""
    settings.TMDB_BASE_URL = "http://metadata.google.internal"

    page = admin_client_.post(
        reverse("embeddings:embedding_connection"), {"tmdb_api_key": fake_tmdb.api_key}, follow=True
    ).content.decode()

    assert "TMDB_BASE_URL is not allowed: metadata.google.internal is a cloud metadata service" in (
        page
    )
    assert "Nothing was saved." in page
    assert fake_tmdb.calls == 0


def test_a_dripping_tmdb_answer_is_cut_at_the_deadline_and_tried_again(
    fake_tmdb: FakeTMDb, settings: Any
) -> None:
    settings.TMDB_TIMEOUT = 1.0
    held_title(fake_tmdb, 9, "After one dripping answer.")
    fake_tmdb.script(["drip:0.25"])  # the change list drips; every later answer is at once

    started = time.perf_counter()
    sync()
    elapsed = time.perf_counter() - started

    print(f"\na sync whose first answer drips (deadline 1 s): {elapsed:.2f} s")
    assert CatalogItem.objects.get(tmdb_id=9).overview == "After one dripping answer."
    assert fake_tmdb.calls >= 3  # the dripping list, its retry, the title
    assert elapsed < 5, f"the sync waited {elapsed:.1f} s on a dripping answer"


def test_a_tmdb_that_drips_its_answer_fails_the_key_test_at_the_page_deadline(
    admin_client_: Client, fake_tmdb: FakeTMDb, settings: Any
) -> None:
    settings.TMDB_API_KEY = ""
    settings.PROVIDER_DEADLINE = 1.0
    fake_tmdb.fail_forever("drip:0.25")

    started = time.perf_counter()
    page = admin_client_.post(
        reverse("embeddings:embedding_connection"), {"tmdb_api_key": fake_tmdb.api_key}, follow=True
    ).content.decode()
    elapsed = time.perf_counter() - started

    print(f"\nthe key test against a dripping TMDb: {elapsed:.2f} s (deadline 1 s)")
    assert "TMDb (content sync): connection failed: TMDb did not answer within 1 s" in page
    assert "Nothing was saved." in page
    assert elapsed < 2.5, f"the page waited {elapsed:.1f} s"
