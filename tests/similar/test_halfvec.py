"""The 1536 table stores halfvec: a set written as `vector` before the change survives the
migration with the same neighbours, and new vectors go in and come out as halfvec."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import CatalogItem
from embeddings.models import Embedding384, Embedding1536
from embeddings.neighbours.filters import Filters
from embeddings.neighbours.stored import StoredVector
from embeddings.neighbours.vector import vector_neighbours
from tests.conftest import make_item, migrate_to_just_before
from tests.similar.helpers import embed, unit

SMALL = "openai:text-embedding-3-small"


def _vectors(n: int, cluster: int = 11) -> np.ndarray:
    """n unit vectors in clusters (a few directions plus noise, as text embeddings are), so an
    item's top 10 are the other ten of its cluster, well apart from every other item."""
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((n // cluster + 1, 1536))
    vectors = np.repeat(centres, cluster, axis=0)[:n] + 0.3 * rng.standard_normal((n, 1536))
    unit: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return unit


def _column_and_index() -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT udt_name FROM information_schema.columns"
            " WHERE table_name = 'embeddings_1536' AND column_name = 'embedding'"
        )
        [column] = cursor.fetchone()
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'embeddings_1536_hnsw_cosine'"
        )
        [index] = cursor.fetchone()
    return column, index


def _exact_top(item_id: int) -> dict[int, float]:
    """The true top 10 of an item among the others (item id → cosine distance), read exactly."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(
            "SELECT n.item_id, n.embedding <=> q.embedding FROM embeddings_1536 n,"
            " (SELECT embedding FROM embeddings_1536 WHERE model_key = %s AND item_id = %s) q"
            " WHERE n.model_key = %s AND n.item_id <> %s ORDER BY 2 LIMIT 10",
            [SMALL, item_id, SMALL, item_id],
        )
        return dict(cursor.fetchall())


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_1536_set_stored_as_vector_survives_the_migration_with_the_same_neighbours() -> None:
    latest = migrate_to_just_before("_halfvec_1536")
    assert _column_and_index()[0] == "vector"
    items = CatalogItem.objects.bulk_create(
        CatalogItem(tmdb_id=n, title=f"Item {n}", text_hash="h") for n in range(1, 67)
    )
    vectors = _vectors(len(items))
    now = datetime.now(UTC)
    with connection.cursor() as cursor:
        for item, vector in zip(items, vectors, strict=True):
            cursor.execute(
                "INSERT INTO embeddings_1536 (item_id, model_key, source_hash, created_at, embedding)"
                " VALUES (%s, %s, 'h', %s, %s::vector(1536))",
                [item.id, SMALL, now, str(vector.tolist())],
            )
    asked = [item.id for item in items[::5]]
    before = {item_id: _exact_top(item_id) for item_id in asked}

    MigrationExecutor(connection).migrate(latest)

    column, index = _column_and_index()
    assert column == "halfvec" and "halfvec_cosine_ops" in index
    assert Embedding1536.objects.for_model(SMALL).count() == len(items)
    for item_id in asked:
        stored = StoredVector(SMALL, Embedding1536, item_id, "h", now).embedding
        walked = vector_neighbours(
            Embedding1536, SMALL, stored, k=10, filters=Filters(exclude_item_id=item_id)
        )
        assert {n.item.pk for n in walked} == set(before[item_id])
        # Half precision moves a cosine by less than a thousandth.
        for n in walked:
            assert n.distance == pytest.approx(before[item_id][n.item.pk], abs=1e-3)
    # Each number kept to half precision: within 0.1 % of what was written.
    row = Embedding1536.objects.get(item=items[0])
    assert np.allclose(
        np.asarray(row.embedding, dtype=np.float64), vectors[0], rtol=1e-3, atol=1e-4
    )


@pytest.mark.django_db
def test_new_1536_vectors_are_stored_as_halfvec_and_found(curator_client: Client) -> None:
    films = [make_item(title=f"Film {n}") for n in range(12)]
    vectors = _vectors(len(films))
    Embedding1536.objects.upsert(
        SMALL, [(film.id, f"h{film.id}") for film in films], vectors.tolist()
    )

    row = Embedding1536.objects.get(item=films[1])
    assert np.allclose(
        np.asarray(row.embedding, dtype=np.float64), vectors[1], rtol=1e-3, atol=1e-4
    )
    answer = curator_client.get(
        reverse("embeddings:similar", args=[films[0].id]),
        {"model": SMALL, "blend": "vector", "format": "json"},
    )
    assert answer.status_code == 200
    # Films 1 to 10 share film 0's cluster: they are its ten neighbours.
    shown = [n["id"] for n in answer.json()["neighbours"]]
    assert set(shown) == {film.id for film in films[1:11]}


@pytest.mark.django_db
def test_each_table_is_walked_with_its_own_ef_search(settings: Any) -> None:
    settings.HNSW_EF_SEARCH = {**settings.HNSW_EF_SEARCH, 384: 55, 1536: 77}
    film = make_item(title="Film")
    for table, vector in ((Embedding384, unit(384, 1.0)), (Embedding1536, unit(1536, 1.0))):
        embed(film, table, SMALL, vector)

    walked = {}
    for table in (Embedding384, Embedding1536):
        with CaptureQueriesContext(connection) as queries:
            vector_neighbours(table, SMALL, unit(table.dimensions, 1.0, 0.5), k=10)
        [setup] = [q["sql"] for q in queries if "hnsw.ef_search" in q["sql"]]
        walked[table.dimensions] = setup

    assert "'hnsw.ef_search', '55'" in walked[384]
    assert "'hnsw.ef_search', '77'" in walked[1536]
