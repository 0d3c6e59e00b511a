"""The hash of each item's text lives on its row, so what is stale is decided in SQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from catalog.models import CatalogItem
from embeddings.jobs.stale import needing_work
from embeddings.models import Embedding384
from embeddings.storage import model_usage
from embeddings.text import item_text, source_hash, text_hash
from tests.conftest import make_item
from tests.similar.helpers import embed, unit

pytestmark = pytest.mark.django_db

MODEL = "local:sentence-transformers/all-MiniLM-L6-v2"


def _old_stale_ids(model_key: str) -> set[int]:
    """The per-item path the SQL replaced: build every text, hash it, compare with the row."""
    stored = dict(
        Embedding384.objects.filter(model_key=model_key).values_list("item_id", "source_hash")
    )
    stale = set()
    for item in CatalogItem.objects.all():
        text = item_text(item)
        if text and stored.get(item.pk) != source_hash(text):
            stale.add(item.pk)
    return stale


def _catalog_with_history() -> None:
    """Embedded items, then edits through every write path, deletions, empty texts and items
    that were never embedded."""
    items = [
        make_item(title=f"Film {n}", tmdb_id=100 + n, overview=f"Story {n}.") for n in range(12)
    ]
    for item in items[:10]:
        embed(item, Embedding384, MODEL, unit(384, 1.0))
    items[0].overview = "Edited in a form."
    items[0].save()
    items[1].tagline = "Edited with update_fields."
    items[1].save(update_fields=["tagline"])
    CatalogItem.objects.filter(pk=items[2].pk).update(title="Renamed by an update")
    items[3].genres = ["Horror"]
    CatalogItem.objects.bulk_update([items[3]], ["genres"])
    CatalogItem.objects.filter(pk=items[4].pk).update(vote_count=10)  # not part of the text
    items[5].delete()
    Embedding384.objects.filter(item=items[6]).delete()  # a lost vector
    items[7].title = ""  # nothing left to embed, though a vector was stored
    items[7].save()
    make_item(title="", overview="No title, so no text.", tmdb_id=900)
    CatalogItem.objects.bulk_create([CatalogItem(title="Bulk-created", tmdb_id=901)])


def test_the_sql_stale_set_equals_the_per_item_path_after_edits_deletions_and_empty_texts() -> None:
    _catalog_with_history()
    expected = _old_stale_ids(MODEL)
    found = set(
        needing_work(CatalogItem.objects.all(), Embedding384, MODEL, "stale").values_list(
            "pk", flat=True
        )
    )
    assert found == expected
    titles = set(CatalogItem.objects.filter(pk__in=found).values_list("title", flat=True))
    assert titles == {
        "Film 0", "Film 1", "Renamed by an update", "Film 3", "Film 6", "Film 10", "Film 11",
        "Bulk-created",
    }  # fmt: skip


def test_missing_and_all_modes_agree_with_the_stored_rows() -> None:
    _catalog_with_history()
    items = CatalogItem.objects.all()
    with_text = {item.pk for item in items if item_text(item)}
    embedded = set(Embedding384.objects.filter(model_key=MODEL).values_list("item_id", flat=True))
    missing = set(needing_work(items, Embedding384, MODEL, "missing").values_list("pk", flat=True))
    everything = set(needing_work(items, Embedding384, MODEL, "all").values_list("pk", flat=True))
    assert missing == with_text - embedded
    assert everything == with_text


def test_the_storage_page_counts_the_same_stale_rows() -> None:
    _catalog_with_history()
    usage = {row.model_key: row for row in model_usage()}[MODEL]
    # Ten stored, one item deleted, one vector lost; stale: Film 0, 1, 3, the renamed
    # one and the one whose title was emptied.
    assert (usage.rows, usage.stale) == (8, 5)


def test_an_edit_in_the_admin_keeps_the_stored_hash_current(superuser: User) -> None:
    item = make_item(title="Heat", tmdb_id=949, overview="A heist.")
    client = Client()
    client.force_login(superuser)
    form = {
        "kind": "movie", "title": "Heat", "original_title": "", "year": "1995", "tagline": "",
        "overview": "A heist in Los Angeles.", "director": "Michael Mann", "cast": "",
        "genres": "Crime", "keywords": "", "collection": "", "tmdb_id": "949", "imdb_id": "",
        "runtime": "", "seasons": "", "popularity": "", "vote_average": "", "vote_count": "",
    }  # fmt: skip
    response = client.post(f"/admin/catalog/catalogitem/{item.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    item.refresh_from_db()
    assert item.overview == "A heist in Los Angeles."
    assert item.text_hash == source_hash(item_text(item)) != ""


def test_a_re_import_keeps_the_stored_hash_current(tmp_path: Path) -> None:
    path = tmp_path / "films.jsonl"
    path.write_text('{"tmdb_id": 1, "title": "Heat", "overview": "A heist."}\n', encoding="utf-8")
    call_command("import_catalog", str(path), stdout=StringIO())
    first = CatalogItem.objects.get(tmdb_id=1)
    assert first.text_hash == text_hash(first) != ""
    path.write_text(
        '{"tmdb_id": 1, "title": "Heat", "overview": "Another heist."}\n', encoding="utf-8"
    )
    call_command("import_catalog", str(path), stdout=StringIO())
    second = CatalogItem.objects.get(tmdb_id=1)
    assert second.text_hash == text_hash(second) != first.text_hash


def test_refreshing_hashes_repairs_rows_written_behind_the_models_back() -> None:
    item = make_item(title="Heat")
    CatalogItem.objects.filter(pk=item.pk).update(text_hash="0" * 64)  # as raw SQL would leave it
    assert CatalogItem.objects.all().refresh_text_hashes() == 1
    item.refresh_from_db()
    assert item.text_hash == text_hash(item)
    assert CatalogItem.objects.all().refresh_text_hashes() == 0


def test_the_refresh_command_says_how_many_hashes_changed() -> None:
    item = make_item(title="Heat")
    CatalogItem.objects.filter(pk=item.pk).update(text_hash="")
    out = StringIO()
    call_command("refresh_text_hashes", stdout=out)
    assert out.getvalue().strip() == "1 item hash(es) changed."


def test_a_running_job_counts_the_rows_it_wrote_as_done_in_every_mode() -> None:
    """A job re-embedding `all` (or `stale`) skips what it wrote since it started, and only that."""
    _catalog_with_history()
    items = CatalogItem.objects.all()
    with_text = {item.pk for item in items if item_text(item)}
    stale_before = _old_stale_ids(MODEL)
    since = timezone.now()
    # Written by the job: one stale item, one up to date, one never embedded before.
    redone = {item.pk for item in items.filter(title__in=["Film 0", "Film 8", "Film 10"])}
    Embedding384.objects.filter(item_id__in=redone).delete()
    for item in items.filter(pk__in=redone):
        embed(item, Embedding384, MODEL, unit(384, 2.0))

    def pending(mode: str) -> set[int]:
        return set(
            needing_work(items, Embedding384, MODEL, mode, since).values_list("pk", flat=True)
        )

    assert pending("all") == with_text - redone
    assert pending("stale") == stale_before - redone
    assert len(redone) == 3 and redone & stale_before and redone - stale_before


def _plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def test_a_running_all_job_reads_each_items_row_by_index_whatever_the_statistics_say() -> None:
    """The statistics PostgreSQL plans with lag behind a job's writes: to them no row was
    written since the job started. Planned as an anti-join on that estimate, listing one chunk
    of a 20,000-item job compared every item with every row (7.5 s)."""
    for n in range(400):
        item = make_item(title=f"Film {n}", tmdb_id=5000 + n, overview=f"Story {n}.")
        embed(item, Embedding384, MODEL, unit(384, 1.0, float(n)))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_catalogitem")
        cursor.execute("ANALYZE embeddings_384")
    since = timezone.now()
    Embedding384.objects.filter(item__tmdb_id__lt=5200).update(created_at=timezone.now())
    chunk = (
        needing_work(CatalogItem.objects.all(), Embedding384, MODEL, "all", since)
        .order_by("id")
        .values_list("id", flat=True)[:100]
    )

    [plan] = json.loads(chunk.explain(format="json"))
    loops = [node for node in _plan_nodes(plan["Plan"]) if node["Node Type"] == "Nested Loop"]

    assert not [
        loop
        for loop in loops
        for node in _plan_nodes(loop)
        if node.get("Relation Name") == "embeddings_384" and node["Node Type"] == "Seq Scan"
    ], "a nested loop scans the whole embeddings table once per item"
    assert len(chunk) == 100
