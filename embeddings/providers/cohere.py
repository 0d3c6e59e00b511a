"""Cohere's Embed API v2 `POST /v2/embed`, up to 96 texts a request,
`input_type` search_document or search_query, float vectors (`embedding_types`). Cohere's
tokenizer is not available offline, so its token counts here are estimates; the answer's billed
units are exact."""

from __future__ import annotations

from typing import Any

from embeddings.providers.credentials import CredentialField
from embeddings.providers.errors import (
    BatchTooLarge,
    EmbeddingError,
    InvalidResponse,
)
from embeddings.providers.json_api import JsonApiProvider
from embeddings.providers.pacing import quota_fields
from embeddings.providers.retries import parse_retry_after

DEFAULT_BASE_URL = "https://api.cohere.com"

API_KEY = CredentialField("cohere_api_key", "Cohere API key", secret=True)
BASE_URL = CredentialField("cohere_base_url", "Cohere base URL", default=DEFAULT_BASE_URL)
QUOTA = quota_fields("cohere", "Cohere")


class CohereProvider(JsonApiProvider):
    label = "Cohere"
    api_key_field, base_url_field = API_KEY, BASE_URL
    credentials = (API_KEY, BASE_URL, *QUOTA)
    throughput = 60.0
    max_batch_inputs = 96

    def _embed_batch(self, texts: list[str], *, query: bool) -> list[list[float]]:
        payload: dict[str, Any] = {
            "model": self.model.spec.name,
            "texts": texts,
            # Cohere's input types do what prefixes do for other models.
            "input_type": "search_query" if query else "search_document",
            "embedding_types": ["float"],
        }
        if self.dimensions != self.model.spec.dimensions:
            payload["output_dimension"] = self.dimensions
        body = self._post("/v2/embed", payload)
        embeddings = body.get("embeddings")
        vectors = embeddings.get("float") if isinstance(embeddings, dict) else None
        if not isinstance(vectors, list):
            raise InvalidResponse("Cohere answered without float embeddings")
        meta = body.get("meta")
        billed = meta.get("billed_units") if isinstance(meta, dict) else None
        tokens = billed.get("input_tokens") if isinstance(billed, dict) else None
        if isinstance(tokens, int | float):
            self._add_tokens(int(tokens))
        return vectors

    def _named(self, status: int, body: Any, retry_after: str | None) -> EmbeddingError:
        """Cohere's error answer (`{"message": "…"}`) as a named error: a batch over the limit
        comes as a 400 or 413."""
        message = self.scrubbed(body.get("message") if isinstance(body, dict) else None)
        if status in (400, 413) and ("at most" in message or "too long" in message):
            return BatchTooLarge(f"Cohere refused the batch as too large: {message}")
        return self.named_by_status(status, message, parse_retry_after(retry_after))
