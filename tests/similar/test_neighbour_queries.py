from __future__ import annotations

import numpy as np
import pytest
from django.db import connection, transaction

from catalog.models import CatalogItem
from embeddings.models import Embedding384, drop_hnsw_index, ensure_hnsw_index
from embeddings.neighbours.filters import Filters
from embeddings.neighbours.vector import exact_neighbour_ids, vector_neighbours
from tests.similar.helpers import at_angle, item_at

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_graphs")]


def _bulk(
    model_key: str, vectors: np.ndarray, *, first_tmdb_id: int, kind: str = "movie"
) -> list[int]:
    items = CatalogItem.objects.bulk_create(
        CatalogItem(kind=kind, tmdb_id=first_tmdb_id + i, title=f"{model_key} {i}", year=2000)
        for i in range(len(vectors))
    )
    Embedding384.objects.bulk_create(
        Embedding384(item=item, model_key=model_key, embedding=vector, source_hash="h")
        for item, vector in zip(items, vectors, strict=True)
    )
    return [item.pk for item in items]


def _unit_rows(
    rng: np.random.Generator, n: int, centre: np.ndarray | None = None, spread: float = 1.0
) -> np.ndarray:
    rows = rng.normal(size=(n, 384)) * spread
    if centre is not None:
        rows += centre
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_neighbours_come_closest_first_and_leave_out_the_item_itself() -> None:
    origin = item_at(Embedding384, "m", 0, title="Origin")
    for degrees in (40, 10, 80, 20):
        item_at(Embedding384, "m", degrees, title=f"At {degrees}")
    found = vector_neighbours(
        Embedding384, "m", at_angle(384, 0), k=10, filters=Filters(exclude_item_id=origin.pk)
    )
    assert [n.item.title for n in found] == ["At 10", "At 20", "At 40", "At 80"]
    assert found[0].score == pytest.approx(np.cos(np.radians(10)), abs=1e-5)


def test_l2_and_inner_product_rank_unit_vectors_like_cosine() -> None:
    for degrees in (30, 5, 60):
        item_at(Embedding384, "m", degrees, title=f"At {degrees}")
    for metric in ("l2", "ip"):
        found = vector_neighbours(Embedding384, "m", at_angle(384, 0), metric=metric)
        assert [n.item.title for n in found] == ["At 5", "At 30", "At 60"], metric
    l2 = vector_neighbours(Embedding384, "m", at_angle(384, 0), metric="l2")
    assert l2[0].score == pytest.approx(2 * np.sin(np.radians(5) / 2), abs=1e-5)  # a chord length


def test_a_filtered_query_returns_k_rows_when_another_models_vectors_crowd_the_table() -> None:
    rng = np.random.default_rng(7)
    query = np.zeros(384)
    query[0] = 1.0
    # 500 vectors of another model sit right around the query; ours are scattered far away.
    _bulk("crowd", _unit_rows(rng, 500, centre=query * 3, spread=0.05), first_tmdb_id=100_000)
    _bulk("ours", _unit_rows(rng, 3000), first_tmdb_id=200_000)
    # A fresh graph, as after a bulk load: rows that earlier tests wrote and rolled back stay in
    # the index until a vacuum (one test stores a thousand copies of this very query vector).
    drop_hnsw_index(Embedding384)
    ensure_hnsw_index(Embedding384)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE embeddings_384")
    # Without the iterative scan the index hands back only crowd rows, which the filter drops.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.iterative_scan = off")
        plain = list(Embedding384.objects.for_model("ours").nearest(query.tolist(), k=10))
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
    assert len(plain) < 10

    found = vector_neighbours(Embedding384, "ours", query.tolist(), k=10)
    assert len(found) == 10
    exact = exact_neighbour_ids(Embedding384, "ours", query.tolist(), k=10)
    assert [n.item.pk for n in found] == exact


def test_recall_at_10_against_an_exact_scan_is_at_least_0_95() -> None:
    rng = np.random.default_rng(11)
    ids = _bulk("ours", _unit_rows(rng, 2000), first_tmdb_id=300_000)
    _bulk("other", _unit_rows(rng, 1000), first_tmdb_id=400_000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE embeddings_384")
    vectors = dict(Embedding384.objects.for_model("ours").values_list("item_id", "embedding"))
    hits = 0
    queries = ids[:50]
    for item_id in queries:
        found = vector_neighbours(
            Embedding384, "ours", vectors[item_id], k=10, filters=Filters(exclude_item_id=item_id)
        )
        exact = exact_neighbour_ids(
            Embedding384, "ours", vectors[item_id], k=10, filters=Filters(exclude_item_id=item_id)
        )
        assert len(exact) == 10
        hits += len({n.item.pk for n in found} & set(exact))
    assert hits / (10 * len(queries)) >= 0.95


def test_filters_keep_only_the_kind_years_and_genre_asked_for() -> None:
    origin = item_at(Embedding384, "m", 0, title="Origin", kind="movie", year=2000)
    item_at(Embedding384, "m", 5, title="A series", kind="series", year=2001, tmdb_id=1)
    item_at(Embedding384, "m", 10, title="Old film", year=1950, genres=["Drama"])
    item_at(Embedding384, "m", 15, title="Heist film", year=2005, genres=["Crime", "Thriller"])
    query = at_angle(384, 0)

    def titles(filters: Filters) -> list[str]:
        return [
            n.item.title
            for n in vector_neighbours(
                Embedding384, "m", query, filters=filters.excluding(origin.pk)
            )
        ]

    assert titles(Filters()) == ["A series", "Old film", "Heist film"]
    assert titles(Filters(kind="movie")) == ["Old film", "Heist film"]
    assert titles(Filters(year_min=1990, year_max=2003)) == ["A series"]
    assert titles(Filters(genre="Crime")) == ["Heist film"]
