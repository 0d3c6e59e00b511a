"""`upsert`: a batch's vectors in multi-row INSERTs, the same rows however often it runs."""

from __future__ import annotations

import numpy as np
import pytest

from catalog.models import CatalogItem
from embeddings.models import UPSERT_ROWS, Embedding384

pytestmark = pytest.mark.django_db
MODEL = "local:all-MiniLM-L6-v2"


def test_more_rows_than_one_statement_are_stored_once_each_and_a_second_run_updates_them() -> None:
    count = UPSERT_ROWS + 5
    CatalogItem.objects.bulk_create(
        [CatalogItem(kind="movie", tmdb_id=n, title=f"Film {n}") for n in range(count)]
    )
    ids = list(CatalogItem.objects.order_by("id").values_list("id", flat=True))
    vectors = np.random.default_rng(3).standard_normal((count, 384))

    Embedding384.objects.upsert(MODEL, [(i, "first") for i in ids], vectors)
    Embedding384.objects.upsert(MODEL, [(i, "second") for i in ids], -vectors)

    rows = Embedding384.objects.for_model(MODEL)
    assert rows.count() == count
    assert set(rows.values_list("source_hash", flat=True)) == {"second"}
    last = rows.get(item_id=ids[-1])
    assert np.allclose(last.embedding, -vectors[-1], atol=1e-6)


def test_an_item_given_twice_in_one_batch_keeps_its_last_vector() -> None:
    first, second = (CatalogItem.objects.create(kind="movie", tmdb_id=n) for n in (1, 2))
    vectors = np.eye(3, 384)

    Embedding384.objects.upsert(
        MODEL, [(first.id, "a"), (second.id, "b"), (first.id, "c")], vectors
    )

    rows = Embedding384.objects.for_model(MODEL)
    assert sorted(rows.values_list("item_id", "source_hash")) == [(first.id, "c"), (second.id, "b")]
    assert np.allclose(rows.get(item_id=first.id).embedding, vectors[2])
