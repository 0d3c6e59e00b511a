"""The row tally that coverage and cost estimates read stays equal to counting the rows, whatever
writes them: saves, a COPY import, an upsert, a kind changed in SQL, cascading deletes, truncate,
the migration."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count

from catalog.models import CatalogItem
from embeddings.models import (
    EMBEDDING_TABLES,
    Embedding384,
    Embedding1536,
    EmbeddingBase,
    RowTally,
)
from embeddings.registry import resolve
from embeddings.storage import total_coverage
from tests.conftest import make_item, migrate_to_just_before
from tests.similar.helpers import at_angle

CATALOG = CatalogItem._meta.db_table


def _tally() -> dict[tuple[str, str], int]:
    rows = RowTally.objects.filter(rows__gt=0).values_list("table_name", "key", "rows")
    return {(table, key): n for table, key, n in rows}


def _counted() -> dict[tuple[str, str], int]:
    """What the tally must say: every counted table's rows grouped by kind or model key."""
    found = {
        (CATALOG, kind): n
        for kind, n in CatalogItem.objects.values_list("kind").annotate(n=Count("id")).order_by()
    }
    for table in EMBEDDING_TABLES.values():
        grouped = table.objects.values_list("model_key").annotate(n=Count("id")).order_by()
        found |= {(table._meta.db_table, key): n for key, n in grouped}
    return found


def _upsert(
    table: type[EmbeddingBase], model_key: str, items: list[CatalogItem], degrees: float
) -> None:
    dims = {Embedding384: 384, Embedding1536: 1536}[table]
    table.objects.upsert(
        model_key,
        [(item.pk, item.text_hash) for item in items],
        [at_angle(dims, degrees)] * len(items),
    )


@pytest.mark.django_db
def test_the_tally_follows_saves_imports_upserts_and_deletes(tmp_path: Path) -> None:
    films = [make_item(title=f"Film {n}") for n in range(3)]
    make_item(title="A series", kind="series")
    path = tmp_path / "more.jsonl"
    path.write_text(
        '{"tmdb_id": 71, "title": "Harbour", "kind": "series"}\n'
        '{"tmdb_id": 72, "title": "Lighthouse"}\n'
    )
    call_command("import_catalog", str(path), stdout=StringIO())  # COPY, no Django signals
    assert _tally() == _counted() == {(CATALOG, "movie"): 4, (CATALOG, "series"): 2}

    _upsert(Embedding384, "m", films, 0)
    _upsert(Embedding384, "m", films, 10)  # the same rows again: updated, not added
    _upsert(Embedding1536, "big", films[:2], 0)
    assert _tally() == _counted()
    assert _tally()[(Embedding384._meta.db_table, "m")] == 3

    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {CATALOG} SET kind = 'series' WHERE id = %s", [films[2].pk])
    films[0].delete()  # its vectors go with it, through the cascade
    assert _tally() == _counted()
    assert _tally()[(Embedding1536._meta.db_table, "big")] == 1

    model = resolve("local:all-MiniLM-L6-v2")
    _upsert(Embedding384, model.key, list(CatalogItem.objects.all()), 5)
    coverage = total_coverage(model)
    assert (coverage.covered, coverage.total, coverage.complete) == (5, 5, True)

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's deferred foreign keys
        cursor.execute(f"TRUNCATE {Embedding384._meta.db_table}")
    assert _tally() == _counted()
    assert total_coverage(model).covered == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_tallies_the_rows_stored_before_it() -> None:
    latest = migrate_to_just_before("_row_tally")
    with connection.cursor() as cursor:
        for n, kind in enumerate(("movie", "movie", "series"), start=1):
            cursor.execute(
                f"INSERT INTO {CATALOG} (kind, tmdb_id, title, original_title, tagline, overview,"
                ' genres, keywords, "cast", director, collection, imdb_id, text_hash,'
                " created_at, updated_at) VALUES (%s, %s, 'T', '', '', '', '{}', '{}', '{}', '',"
                " '', '', '', now(), now())",
                [kind, n],
            )

    MigrationExecutor(connection).migrate(latest)

    assert _tally() == {(CATALOG, "movie"): 2, (CATALOG, "series"): 1}
    make_item(title="After")
    assert _tally() == _counted() == {(CATALOG, "movie"): 3, (CATALOG, "series"): 1}
