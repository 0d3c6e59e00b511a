"""Hand-made vectors: an item placed at a chosen angle, so the right neighbours are known."""

from __future__ import annotations

import math
from typing import Any

from catalog.models import CatalogItem
from embeddings.models import EmbeddingBase
from embeddings.text import item_text, source_hash
from tests.conftest import make_item


def unit(dimensions: int, *weights: float) -> list[float]:
    """A unit vector whose first components are `weights` (the rest zero)."""
    vector = [0.0] * dimensions
    vector[: len(weights)] = weights
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector]


def at_angle(dimensions: int, degrees: float) -> list[float]:
    """A unit vector `degrees` away from the first axis, in the plane of the first two."""
    radians = math.radians(degrees)
    return unit(dimensions, math.cos(radians), math.sin(radians))


def embed(
    item: CatalogItem, table: type[EmbeddingBase], model_key: str, vector: list[float]
) -> Any:
    row: Any = table(item=item, model_key=model_key, source_hash=source_hash(item_text(item)))
    row.embedding = vector
    row.save()
    return row


def item_at(
    table: type[EmbeddingBase], model_key: str, degrees: float, **fields: Any
) -> CatalogItem:
    item = make_item(**fields)
    embed(item, table, model_key, at_angle(table.dimensions, degrees))
    return item
