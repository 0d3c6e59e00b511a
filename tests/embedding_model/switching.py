"""What the switching tests set up: two 384-dimension models, a vector of one, the settings."""

from __future__ import annotations

from catalog.models import CatalogItem
from embeddings.models import Embedding384, EmbeddingSettings

OLD = "local:all-MiniLM-L6-v2"
NEW = "none:disabled"  # another 384-dimension model: its rows share the table with the old set


def add_vector(item: CatalogItem, model_key: str) -> None:
    Embedding384.objects.create(
        item=item, model_key=model_key, source_hash="x", embedding=[1.0] + [0.0] * 383
    )


def set_settings(**fields: str) -> EmbeddingSettings:
    config = EmbeddingSettings.load()
    for name, value in fields.items():
        setattr(config, name, value)
    config.save()
    return config
