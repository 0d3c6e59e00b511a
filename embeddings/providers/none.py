from __future__ import annotations

from embeddings.providers.base import Provider
from embeddings.providers.errors import EmbeddingsDisabled


class NoneProvider(Provider):
    """Embeddings turned off: nothing is ever sent anywhere (always available, nothing to set)."""

    label = "None"

    def _embed_batch(self, texts: list[str], *, query: bool) -> list[list[float]]:
        raise EmbeddingsDisabled("embeddings are turned off (EMBEDDING_PROVIDER=none)")
