from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from embeddings.models import EMBEDDING_TABLES, Embedding384, Embedding3072
from tests.conftest import make_item

pytestmark = pytest.mark.django_db


def test_the_five_embedding_tables_have_hnsw_cosine_indexes_and_the_postings_a_btree() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexdef FROM pg_indexes WHERE indexdef ILIKE '%USING hnsw%'"
        )
        indexes = dict(cursor.fetchall())
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'lexical_postings_impact'"
        )
        [impact] = cursor.fetchone() or [""]
    tables = {f"embeddings_{d}" for d in (384, 768, 1024, 1536, 3072)}
    assert set(indexes) == tables
    assert "vector_cosine_ops" in indexes["embeddings_384"]
    assert "halfvec_cosine_ops" in indexes["embeddings_1536"]
    assert "halfvec_cosine_ops" in indexes["embeddings_3072"]
    # Each word's items of a kind heaviest first, the item id read from the index alone.
    assert "btree (term_id, kind, weight DESC) INCLUDE (item_id)" in impact


def test_the_1536_and_3072_tables_store_halfvec_and_the_others_vector() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, udt_name FROM information_schema.columns WHERE column_name = 'embedding'"
        )
        types = dict(cursor.fetchall())
    assert {types[f"embeddings_{d}"] for d in (1536, 3072)} == {"halfvec"}
    assert {types[f"embeddings_{d}"] for d in (384, 768, 1024)} == {"vector"}


def test_a_vector_of_the_wrong_dimension_is_refused_before_storage() -> None:
    item = make_item(title="Heat")
    with pytest.raises(ValidationError, match="expected a vector of 384 dimensions, got 3"):
        Embedding384.objects.create(
            item=item, model_key="local:x", embedding=[1, 2, 3], source_hash="h"
        )
    assert Embedding384.objects.count() == 0


def test_one_row_per_item_and_model_and_rows_follow_their_item_on_delete() -> None:
    item = make_item(title="Heat")
    Embedding3072.objects.create(item=item, model_key="a", embedding=[0.5] * 3072, source_hash="h")
    Embedding3072.objects.create(item=item, model_key="b", embedding=[0.5] * 3072, source_hash="h")
    assert Embedding3072.objects.filter(item=item).count() == 2
    item.delete()
    assert sum(table.objects.count() for table in EMBEDDING_TABLES.values()) == 0
