"""What is stored to search by: the models whose vectors a page asks for, and an item's own
vectors, one per model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Subquery

from embeddings.models import EMBEDDING_TABLES, EmbeddingBase
from embeddings.registry import ResolvedModel, UnknownModel, resolve, stored_set


def resolve_stored(model_key: str) -> ResolvedModel | None:
    """The model whose stored vectors are asked for: the registry's, else a key it no longer
    offers (a retired model, a benchmark's synthetic set) found where its rows are; None when
    it is neither."""
    try:
        return resolve(model_key)
    except UnknownModel:
        pass
    for dimensions, table in EMBEDDING_TABLES.items():
        if table.objects.for_model(model_key).exists():
            return stored_set(model_key, dimensions)
    return None


@dataclass(frozen=True)
class StoredVector:
    model_key: str
    table: type[EmbeddingBase]
    item_id: int
    source_hash: str
    created_at: datetime

    @property
    def dimensions(self) -> int:
        return self.table.dimensions

    @property
    def embedding(self) -> Subquery:
        """The vector as a subquery: PostgreSQL reads it once for the index scan, and it never
        travels to Python and back as thousands of digits."""
        row = self.table.objects.for_model(self.model_key).filter(item_id=self.item_id)
        return Subquery(row.values("embedding")[:1])


def stored_vectors(item_id: int) -> dict[str, StoredVector]:
    """Every model that has a vector for this item, by model key."""
    found: dict[str, StoredVector] = {}
    for table in EMBEDDING_TABLES.values():
        rows = table.objects.filter(item_id=item_id).order_by("model_key")
        for key, source, created_at in rows.values_list("model_key", "source_hash", "created_at"):
            found[key] = StoredVector(key, table, item_id, source, created_at)
    return found
