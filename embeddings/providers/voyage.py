"""Voyage AI's embeddings API `POST /v1/embeddings`, up to 1,000 texts and a
model's token budget a request, `input_type` document or query. Voyage's tokenizer is not
available offline, so its token counts here are estimates; the answer's `usage` is exact."""

from __future__ import annotations

from typing import Any

import httpx2

import reclio_admin.outbound.wire as wire
from embeddings.providers.base import Answer, Provider
from embeddings.providers.credentials import CredentialField, credential
from embeddings.providers.errors import (
    AuthenticationFailed,
    BatchTooLarge,
    EmbeddingError,
    InvalidResponse,
    MissingCredentials,
    ModelNotAvailable,
    ProviderUnreachable,
    RateLimited,
    ServerError,
)
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


class VoyageProvider(Provider):
    label = "Voyage AI"
    credentials = (API_KEY, BASE_URL, *QUOTA)
    throughput = 100.0
    remote = True
    max_batch_inputs = 1000

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.api_key = credential(API_KEY).value
        self.base_url = (credential(BASE_URL).value or DEFAULT_BASE_URL).rstrip("/")
        self.address = self.base_url
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

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The one place this provider talks HTTP; every failure leaves as a named error."""
        if not self.api_key:
            raise MissingCredentials(
                "Voyage AI API key is not set: enter it on the settings page or set VOYAGE_API_KEY"
            )
        try:
            with self.on_the_wire():
                response = wire.client().post(
                    self.base_url + path,
                    json=payload,
                    headers={"Authorization": f"Bearer {self.api_key}"},
                    timeout=self.request_timeout(),
                )
        except httpx2.TimeoutException:
            raise self.timed_out("Voyage AI") from None
        except httpx2.HTTPError:
            raise ProviderUnreachable(f"cannot connect to Voyage AI at {self.base_url}") from None
        if 300 <= response.status_code < 400:
            location = response.headers.get("location", "")
            raise self.redirected(response.status_code, location, "VOYAGE_BASE_URL")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            raise self._named(response.status_code, body, response.headers.get("Retry-After"))
        if not isinstance(body, dict):
            raise ServerError("Voyage AI sent an answer that is not valid JSON")
        return body

    def _named(self, status: int, body: Any, retry_after: str | None) -> EmbeddingError:
        """Voyage's error answer (`{"detail": "…"}`) as a named error; its words are passed on
        only for a refused request, scrubbed of the key."""
        detail = body.get("detail") if isinstance(body, dict) else None
        message = str(detail or "")[:300].replace(self.api_key, "***")
        name = self.model.spec.name
        lowered = message.lower()
        if status == 401:
            return AuthenticationFailed("Voyage AI rejected the API key")
        if status == 403:
            return AuthenticationFailed(f"Voyage AI refused this API key access to {name}")
        if status == 404 or (status == 400 and "model" in lowered and "not supported" in lowered):
            return ModelNotAvailable(f"Voyage AI has no embedding model '{name}'")
        if status == 400 and ("batch" in lowered or "tokens" in lowered):
            return BatchTooLarge(f"Voyage AI refused the batch as too large: {message}")
        if status == 429:
            wait = parse_retry_after(retry_after)
            return RateLimited("Voyage AI is rate limiting requests", retry_after=wait)
        if status >= 500:
            return ServerError(f"Voyage AI answered HTTP {status}")
        return EmbeddingError(f"Voyage AI refused the request: {message or status}")
