"""The vectors: one table per dimension, their queries, their HNSW indexes and the bulk upsert."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.utils import timezone
from pgvector.django import (
    CosineDistance,
    HalfVectorField,
    HnswIndex,
    L2Distance,
    MaxInnerProduct,
    VectorField,
)
from pgvector.psycopg import register_vector

from catalog.models import CatalogItem
from embeddings.registry import DIMENSIONS, storage_type

# Distance operators by metric. Only cosine has an HNSW index; L2 and inner product scan exactly.
METRICS: dict[str, type[CosineDistance | L2Distance | MaxInnerProduct]] = {
    "cosine": CosineDistance,
    "l2": L2Distance,
    "ip": MaxInnerProduct,
}


class EmbeddingQuerySet(models.QuerySet[Any]):
    def for_model(self, model_key: str) -> EmbeddingQuerySet:
        return self.filter(model_key=model_key)

    def nearest(self, vector: Any, *, k: int = 10, metric: str = "cosine") -> EmbeddingQuerySet:
        """The k rows closest to `vector`, closest first, annotated with `distance` (the operator's
        value: cosine distance, L2 distance, or the negated inner product)."""
        distance = METRICS[metric]("embedding", vector)
        nearest: EmbeddingQuerySet = self.annotate(distance=distance).order_by("distance")[:k]
        return nearest

    def upsert(
        self,
        model_key: str,
        rows: Sequence[tuple[int, str]],
        vectors: Sequence[Sequence[float]] | np.ndarray,
    ) -> None:
        """Store one vector per (item id, source hash) row for this model; running it twice
        leaves the same rows (an item given twice keeps its last vector).

        Vectors travel in pgvector's binary format (a float32 array each): formatting 384 or
        3,072 numbers as text per row cost more than the upsert. The rows go in multi-row
        INSERTs of up to UPSERT_ROWS each: a statement per row cost PostgreSQL three times the
        CPU of the rows themselves."""
        if not rows:
            return
        table: type[EmbeddingBase] = self.model
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.shape != (len(rows), table.dimensions):
            raise ValueError(
                f"vectors of shape {matrix.shape} cannot go in the {table.dimensions} table"
            )
        # One statement may not touch a row twice (ON CONFLICT would refuse it): the last wins.
        last = {item_id: index for index, (item_id, _) in enumerate(rows)}
        kept = sorted(last.values())
        vector = f"CAST(%b AS {storage_type(table.dimensions)}({table.dimensions}))"
        now = timezone.now()
        # Django's cursors bind parameters on the client, as text; this one, on the same connection
        # and in the same transaction, sends the vectors as binary.
        with psycopg.Cursor(_vector_connection()) as cursor:
            for start in range(0, len(kept), UPSERT_ROWS):
                part = kept[start : start + UPSERT_ROWS]
                values = ", ".join([f"(%s, %s, %s, %s, {vector})"] * len(part))
                params: list[Any] = []
                for index in part:
                    item_id, digest = rows[index]
                    params += [item_id, model_key, digest, now, matrix[index]]
                cursor.execute(
                    f"INSERT INTO {table._meta.db_table} "
                    "(item_id, model_key, source_hash, created_at, embedding) "
                    f"VALUES {values} ON CONFLICT (item_id, model_key) DO UPDATE SET "
                    "embedding = EXCLUDED.embedding, source_hash = EXCLUDED.source_hash, "
                    "created_at = EXCLUDED.created_at",
                    params,
                )


# Rows per INSERT of `upsert`: five parameters each, far below PostgreSQL's 65,535.
UPSERT_ROWS = 1000


_registered: weakref.WeakSet[Any] = weakref.WeakSet()


def _vector_connection() -> Any:
    """The raw connection under Django's, taught pgvector's binary formats (once each)."""
    connection.ensure_connection()
    raw = connection.connection
    if raw not in _registered:
        register_vector(raw)
        _registered.add(raw)
    return raw


class EmbeddingBase(models.Model):
    """One vector per (catalog item, model). Subclasses fix the dimension and the table."""

    dimensions: int = 0
    embedding: Any  # a VectorField or HalfVectorField of the subclass's dimension

    item = models.ForeignKey(CatalogItem, on_delete=models.CASCADE, related_name="+")
    model_key = models.CharField(max_length=200)
    source_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now=True)

    objects = EmbeddingQuerySet.as_manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.model_key} · item {self.item_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        check_dimensions(self.embedding, self.dimensions)
        super().save(*args, **kwargs)

    def clean_fields(self, exclude: Any = None) -> None:
        super().clean_fields(exclude)
        check_dimensions(self.embedding, self.dimensions)


def check_dimensions(vector: Any, dimensions: int) -> None:
    """Refuse a vector of the wrong size before it reaches the database."""
    size = len(vector) if vector is not None else 0
    if size != dimensions:
        raise ValidationError(f"expected a vector of {dimensions} dimensions, got {size}")


def _vector_field(dimensions: int) -> VectorField | HalfVectorField:
    field = HalfVectorField if storage_type(dimensions) == "halfvec" else VectorField
    return field(dimensions=dimensions)


def _meta(dimensions: int) -> Any:
    table = f"embeddings_{dimensions}"
    return type(
        "Meta",
        (),
        {
            "db_table": table,
            "verbose_name": f"embedding ({dimensions} d)",
            "constraints": [
                models.UniqueConstraint(
                    fields=["item", "model_key"], name=f"{table}_unique_item_model"
                ),
            ],
            "indexes": [
                # Covers the stale check (`embeddings.jobs.stale`): an index-only anti-join.
                models.Index(
                    fields=["model_key", "item"],
                    include=["source_hash", "created_at"],
                    name=f"{table}_model_item",
                ),
                HnswIndex(
                    name=f"{table}_hnsw_cosine",
                    fields=["embedding"],
                    m=16,
                    ef_construction=64,
                    opclasses=[f"{storage_type(dimensions)}_cosine_ops"],
                ),
            ],
        },
    )


class Embedding384(EmbeddingBase):
    dimensions = 384
    embedding = _vector_field(384)
    Meta = _meta(384)


class Embedding768(EmbeddingBase):
    dimensions = 768
    embedding = _vector_field(768)
    Meta = _meta(768)


class Embedding1024(EmbeddingBase):
    dimensions = 1024
    embedding = _vector_field(1024)
    Meta = _meta(1024)


class Embedding1536(EmbeddingBase):
    dimensions = 1536
    embedding = _vector_field(1536)
    Meta = _meta(1536)


class Embedding3072(EmbeddingBase):
    dimensions = 3072
    embedding = _vector_field(3072)
    Meta = _meta(3072)


EMBEDDING_TABLES: dict[int, type[EmbeddingBase]] = {
    384: Embedding384,
    768: Embedding768,
    1024: Embedding1024,
    1536: Embedding1536,
    3072: Embedding3072,
}


def _hnsw_index(table: type[models.Model]) -> HnswIndex:
    return next(index for index in table._meta.indexes if isinstance(index, HnswIndex))


def drop_hnsw_index(table: type[models.Model]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'DROP INDEX IF EXISTS "{_hnsw_index(table).name}"')


def has_hnsw_index(table: type[models.Model]) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [_hnsw_index(table).name])
        return cursor.fetchone() is not None


def ensure_hnsw_index(table: type[models.Model]) -> bool:
    """Build the table's HNSW index if it is missing (after a bulk load); True when built."""
    if has_hnsw_index(table):
        return False
    index = _hnsw_index(table)
    with connection.schema_editor(atomic=True) as editor:
        # Workers that finish one job together would each build the same index at once, a core
        # each, and all but one throw theirs away: the first builds, the others wait and find it.
        editor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"hnsw-build:{table._meta.db_table}"],
        )
        if has_hnsw_index(table):
            return False
        sql = str(index.create_sql(table, editor)).replace(
            "CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1
        )
        # The build is one pass over the table; memory keeps the graph out of temporary files.
        editor.execute(f"SET LOCAL maintenance_work_mem = '{settings.HNSW_BUILD_MEMORY}'")
        # Inside a caller's transaction, deferred foreign-key checks must run before the build.
        editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        editor.execute(sql)
        editor.execute("SET CONSTRAINTS ALL DEFERRED")
    return True


def table_for(dimensions: int) -> type[EmbeddingBase]:
    """The model class whose table stores vectors of this dimension."""
    try:
        return EMBEDDING_TABLES[dimensions]
    except KeyError:
        raise ValueError(
            f"no embedding table for {dimensions} dimensions (tables: {', '.join(map(str, DIMENSIONS))})"
        ) from None
