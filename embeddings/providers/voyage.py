"""Voyage AI's embeddings API `POST /v1/embeddings`, up to 1,000 texts and a
model's token budget a request, `input_type` document or query. Voyage's tokenizer is not
available offline, so its token counts here are estimates; the answer's `usage` is exact."""

from __future__ import annotations

from typing import Any

from embeddings.providers.base import Answer
from embeddings.providers.credentials import CredentialField
from embeddings.providers.errors import (
    BatchTooLarge,
    EmbeddingError,
    InvalidResponse,
)
from embeddings.providers.json_api import JsonApiProvider
from embeddings.providers.pacing import quota_fields
from embeddings.providers.retries import parse_retry_after

DEFAULT_BASE_URL = "https://api.voyageai.com"

API_KEY = CredentialField("voyage_api_key", "Voyage AI API key", secret=True)
BASE_URL = CredentialField("voyage_base_url", "Voyage AI base URL", default=DEFAULT_BASE_URL)

# Voyage's tokens a request, by model. Our counts are estimates (four characters a token), so a
# request is filled to three quarters of the limit: a text Voyage counts as longer still fits.
BATCH_TOKENS = {"voyage-3-large": 120_000, "voyage-3": 320_000}
ESTIMATE_MARGIN = 0.75
QUOTA = quota_fields("voyage", "Voyage AI")


class VoyageProvider(JsonApiProvider):
    label = "Voyage AI"
    api_key_field, base_url_field = API_KEY, BASE_URL
    credentials = (API_KEY, BASE_URL, *QUOTA)
    throughput = 100.0
    max_batch_inputs = 1000

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        limit = BATCH_TOKENS.get(self.model.spec.name, min(BATCH_TOKENS.values()))
        self.max_batch_tokens = int(limit * ESTIMATE_MARGIN)

    def _embed_batch(self, texts: list[str], *, query: bool) -> Answer:
        payload: dict[str, Any] = {
            "input": texts,
            "model": self.model.spec.name,
            # Voyage prepends its own retrieval prompt for each side.
            "input_type": "query" if query else "document",
        }
        if self.dimensions != self.model.spec.dimensions:
            payload["output_dimension"] = self.dimensions
        body = self._post("/v1/embeddings", payload)
        data = body.get("data")
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise InvalidResponse("Voyage AI answered without embeddings")
        # Each vector names the text it belongs to; the answer check puts them in that order.
        answer = Answer(
            [item.get("embedding") for item in data], [item.get("index") for item in data]
        )
        usage = body.get("usage")
        tokens = usage.get("total_tokens") if isinstance(usage, dict) else None
        if isinstance(tokens, int):
            self._add_tokens(tokens)
        return answer

    def _named(self, status: int, body: Any, retry_after: str | None) -> EmbeddingError:
        """Voyage's error answer (`{"detail": "…"}`) as a named error: an unsupported model
        and a batch over the limit come as a 400."""
        message = self.scrubbed(body.get("detail") if isinstance(body, dict) else None)
        lowered = message.lower()
        if status == 400 and "model" in lowered and "not supported" in lowered:
            status = 404
        if status == 400 and ("batch" in lowered or "tokens" in lowered):
            return BatchTooLarge(f"Voyage AI refused the batch as too large: {message}")
        return self.named_by_status(status, message, parse_retry_after(retry_after))
