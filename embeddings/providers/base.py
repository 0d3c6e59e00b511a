from __future__ import annotations

import math
import time

from embeddings.registry import ResolvedModel


class EmbeddingError(Exception):
    """A provider failure, named for a person to read. Never carries a secret."""

    retryable = False


class EmbeddingsDisabled(EmbeddingError):
    pass


class Provider:
    """Embeds texts with one model. Subclasses implement `_embed_batch` (one HTTP call site or one
    local call) and may override `count_tokens` / `truncate` with the model's own tokenizer."""

    def __init__(self, model: ResolvedModel) -> None:
        self.model = model
        self.key = model.key
        self.dimensions = model.dimensions
        self.max_tokens = model.spec.max_tokens

    def embed(self, texts: list[str], *, query: bool = False) -> list[list[float]]:
        """Embed texts (document or query side), truncated to the model's limit, L2-normalised,
        each checked for the model's dimension."""
        prefix = self.model.spec.query_prefix if query else self.model.spec.document_prefix
        prepared = [prefix + self.truncate(text) for text in texts]
        vectors = self._embed_batch(prepared)
        if len(vectors) != len(texts):
            raise EmbeddingError(f"{self.key} returned {len(vectors)} vectors for {len(texts)} texts")
        return [self._checked(vector) for vector in vectors]

    def check(self) -> float:
        """Embed a probe; return the latency in milliseconds or raise the named error."""
        started = time.perf_counter()
        self.embed(["connection check"], query=True)
        return (time.perf_counter() - started) * 1000

    def count_tokens(self, text: str) -> int:
        # About four characters a token in English, for models without a tokenizer here.
        return max(1, math.ceil(len(text) / 4)) if text else 0

    def truncate(self, text: str) -> str:
        limit = self.max_tokens * 4
        return text[:limit] if self.max_tokens and len(text) > limit else text

    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError

    def _checked(self, vector: list[float]) -> list[float]:
        if len(vector) != self.dimensions:
            raise EmbeddingError(
                f"{self.key} returned a vector of {len(vector)} dimensions, expected {self.dimensions}"
            )
        norm = math.sqrt(sum(v * v for v in vector))
        if not math.isfinite(norm) or norm == 0:
            raise EmbeddingError(f"{self.key} returned an empty or invalid vector")
        return [v / norm for v in vector]
