"""The token tally the settings page sums stays equal to the per-item counts it replaces, whatever
writes them: counting, recounting after an edit, deleting items, raw SQL, the migration."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count

from catalog.models import CatalogItem
from embeddings.models import TokenCount, TokenTally
from embeddings.switching.tokens import counting_providers, refresh_token_counts
from tests.conftest import make_item, migrate_to_just_before


def _tally() -> dict[tuple[str, int], int]:
    return {
        (tokenizer, tokens): items
        for tokenizer, tokens, items in TokenTally.objects.values_list(
            "tokenizer", "tokens", "items"
        )
    }


def _from_counts() -> dict[tuple[str, int], int]:
    """What the tally must say: the per-item rows grouped by tokenizer and size."""
    grouped = TokenCount.objects.values_list("tokenizer", "tokens").annotate(n=Count("id"))
    return {(tokenizer, tokens): n for tokenizer, tokens, n in grouped.order_by()}


@pytest.mark.django_db
def test_the_tally_follows_counting_edits_and_deleted_items() -> None:
    first = make_item(title="One", overview="A short text.")
    second = make_item(title="Two", overview="A short text.")
    make_item(title="Three", overview="Another, rather longer, text about a heist at sea.")
    tokenizers = counting_providers()

    refresh_token_counts()
    assert _tally() == _from_counts()
    assert sum(_tally().values()) == 3 * len(tokenizers)

    first.overview = (
        "A much longer overview than before, so the text, its hash and its size change."
    )
    first.save()
    assert refresh_token_counts() == len(tokenizers)  # an upsert: the old size leaves the tally
    assert _tally() == _from_counts()

    second.delete()  # its counts go with it, through Django's cascade
    assert _tally() == _from_counts()
    assert sum(_tally().values()) == 2 * len(tokenizers)


@pytest.mark.django_db
def test_rows_written_and_removed_with_raw_sql_are_tallied_too() -> None:
    items = [make_item(title=f"Item {n}") for n in range(4)]
    TokenCount.objects.bulk_create(
        TokenCount(item=item, tokenizer="t", source_hash="x", tokens=100 + n % 2)
        for n, item in enumerate(items)
    )
    assert _tally() == {("t", 100): 2, ("t", 101): 2}

    with connection.cursor() as cursor:
        cursor.execute("UPDATE embeddings_tokencount SET tokens = 101 WHERE tokens = 100")
    assert _tally() == {("t", 101): 4}  # an emptied size leaves no row behind

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM embeddings_tokencount WHERE item_id = %s", [items[0].id])
    assert _tally() == {("t", 101): 3}

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's deferred foreign keys
        cursor.execute("TRUNCATE embeddings_tokencount")
    assert _tally() == {}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_tallies_the_counts_stored_before_it() -> None:
    latest = migrate_to_just_before("_token_tally")
    items = CatalogItem.objects.bulk_create(
        CatalogItem(tmdb_id=n, title=f"Item {n}") for n in range(1, 4)
    )
    with connection.cursor() as cursor:
        for item, tokens in zip(items, (40, 40, 900), strict=True):
            cursor.execute(
                "INSERT INTO embeddings_tokencount (item_id, tokenizer, source_hash, tokens)"
                " VALUES (%s, 'cl100k_base', 'x', %s)",
                [item.id, tokens],
            )

    MigrationExecutor(connection).migrate(latest)

    assert _tally() == {("cl100k_base", 40): 2, ("cl100k_base", 900): 1}
    TokenCount.objects.filter(tokens=900).update(tokens=40)
    assert _tally() == {("cl100k_base", 40): 3}
