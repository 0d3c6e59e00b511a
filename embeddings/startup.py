"""What `make run` prepares on the embeddings side before the worker starts."""

from __future__ import annotations

from collections.abc import Iterator

from embeddings.models import EmbeddingSettings
from embeddings.registry import default_model_key


def prepare() -> Iterator[str]:
    config = EmbeddingSettings.load()
    if not config.active_model_key:
        config.active_model_key = default_model_key()
        config.save(update_fields=["active_model_key", "updated_at"])
    yield f"Active embedding model: {config.active_model_key}"
