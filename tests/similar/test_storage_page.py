from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse

from embeddings.models import Embedding384, Embedding1536, EmbeddingSettings
from embeddings.storage import model_usage, table_usage
from embeddings.templatetags.formats import size as size_filter
from tests.conftest import make_item
from tests.similar.helpers import at_angle, embed

pytestmark = pytest.mark.django_db

ACTIVE = "local:all-MiniLM-L6-v2"
OLD = "old:model"


@pytest.fixture
def vectors() -> None:
    """Three movies and a series under the active model, two movies under an old 1536-d one."""
    items = [make_item(title=f"Film {i}") for i in range(3)] + [
        make_item(title="Show", kind="series")
    ]
    for i, item in enumerate(items):
        embed(item, Embedding384, ACTIVE, at_angle(384, i * 10))
    for item in items[:2]:
        embed(item, Embedding1536, OLD, at_angle(1536, 5))
    config = EmbeddingSettings.load()
    config.active_model_key = ACTIVE
    config.save()


def _pg(sql: str, *params: Any) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("staff", 200), ("curator", 200), ("outsider", 403), ("anonymous", 302)],
)
def test_curators_and_up_see_the_storage_page(
    role_clients: dict[str, Client], role: str, status: int
) -> None:
    assert role_clients[role].get(reverse("embeddings:storage")).status_code == status


def test_table_numbers_match_postgresql_and_the_row_counts(vectors: None) -> None:
    usage = {t.table: t for t in table_usage()}
    assert set(usage) == {f"embeddings_{d}" for d in (384, 768, 1024, 1536, 3072)}
    for name, t in usage.items():
        assert t.total_bytes == _pg("SELECT pg_total_relation_size(%s)", name)
        assert t.index_bytes == _pg("SELECT pg_indexes_size(%s)", name)
        assert t.table_bytes + t.index_bytes == t.total_bytes
    assert usage["embeddings_384"].rows == 4
    assert usage["embeddings_1536"].rows == 2
    assert usage["embeddings_768"].rows == 0


def test_per_model_rows_coverage_and_stale_rows(vectors: None) -> None:
    from catalog.models import CatalogItem

    film = CatalogItem.objects.get(title="Film 0")
    film.overview = "A different film now."
    film.save()
    make_item(title="Not embedded")
    usage = {m.model_key: m for m in model_usage()}
    active, old = usage[ACTIVE], usage[OLD]
    assert (active.rows, active.movies.covered, active.movies.total) == (4, 3, 4)
    assert (active.series.covered, active.series.total) == (1, 1)
    assert active.stale == 1 and old.stale == 1
    assert (old.rows, old.movies.covered, old.series.covered) == (2, 2, 0)
    assert (active.dimensions, active.bytes_per_vector) == (384, 384 * 4 + 8)
    assert old.bytes_per_vector == 1536 * 2 + 8  # halfvec: 2 bytes a number
    assert active.is_active and not active.deletable and old.deletable


def test_the_page_shows_the_sizes_the_chart_and_the_database_total(
    curator_client: Client, vectors: None
) -> None:
    html = curator_client.get(reverse("embeddings:storage")).content.decode()
    total_384 = _pg("SELECT pg_total_relation_size('embeddings_384')")
    assert re.search(rf'<tr data-table="embeddings_384">.*?data-bytes="{total_384}"', html, re.S)
    assert html.count("<rect") == 10  # table and index bars for five tables
    assert 'id="database-total"' in html
    found = re.search(rf'<tr data-model="{OLD}">(.*?)</tr>', html, re.S)
    assert found is not None
    row = found.group(1)
    assert "2 / 3 (66.7 %)" in row  # movies covered
    assert "Delete…" not in row  # a curator may not delete


def test_an_admin_confirms_then_deletes_an_inactive_models_set(
    admin_client_: Client, vectors: None
) -> None:
    page = admin_client_.get(reverse("embeddings:storage")).content.decode()
    assert "storage/delete/?model=old%3Amodel" in page
    assert "storage/delete/?model=local" not in page  # no delete link for the active model
    confirm = admin_client_.get(reverse("embeddings:storage_delete"), {"model": OLD})
    assert "Delete the vectors of old:model?" in confirm.content.decode()
    assert Embedding1536.objects.count() == 2  # asking changes nothing
    response = admin_client_.post(reverse("embeddings:storage_delete"), {"model": OLD}, follow=True)
    assert "Deleted 2 vectors of old:model." in response.content.decode()
    assert Embedding1536.objects.count() == 0 and Embedding384.objects.count() == 4


def test_deleting_the_active_or_the_building_set_is_refused(
    admin_client_: Client, vectors: None
) -> None:
    response = admin_client_.post(
        reverse("embeddings:storage_delete"), {"model": ACTIVE}, follow=True
    )
    assert "Not deleted: local:all-MiniLM-L6-v2 is the active model" in response.content.decode()
    assert Embedding384.objects.count() == 4
    config = EmbeddingSettings.load()
    config.building_model_key = OLD
    config.save()
    response = admin_client_.post(reverse("embeddings:storage_delete"), {"model": OLD}, follow=True)
    assert "Not deleted: old:model is being built" in response.content.decode()
    assert Embedding1536.objects.count() == 2


def test_only_embedding_admins_may_delete_and_only_by_post_with_csrf(
    role_clients: dict[str, Client], admin_user: User, vectors: None
) -> None:
    url = reverse("embeddings:storage_delete")
    for role, status in (("staff", 403), ("curator", 403), ("outsider", 403), ("anonymous", 302)):
        assert role_clients[role].post(url, {"model": OLD}).status_code == status, role
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    assert strict.post(url, {"model": OLD}).status_code == 403
    assert Embedding1536.objects.count() == 2


@pytest.mark.parametrize(
    ("size", "shown"),
    [(512, "512 bytes"), (1_023_999, "1.0 MB"),
     (1_000 * 1024, "1.0 MB"), (999 * 1024, "999.0 KB"), (5 * 1024**3, "5.0 GB")],
)  # fmt: skip
def test_sizes_move_up_a_unit_before_they_would_read_a_thousand(size: int, shown: str) -> None:
    assert size_filter(size) == shown
