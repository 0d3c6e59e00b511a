"""Cohere's Embed API v2 `POST /v2/embed`, up to 96 texts a request,
`input_type` search_document or search_query, float vectors (`embedding_types`). Cohere's
tokenizer is not available offline, so its token counts here are estimates; the answer's billed
units are exact."""

from __future__ import annotations

from typing import Any

import httpx2

import reclio_admin.outbound.wire as wire
from embeddings.providers.base import Provider
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

DEFAULT_BASE_URL = "https://api.cohere.com"

API_KEY = CredentialField("cohere_api_key", "Cohere API key", secret=True)
BASE_URL = CredentialField("cohere_base_url", "Cohere base URL", default=DEFAULT_BASE_URL)
QUOTA = quota_fields("cohere", "Cohere")


class CohereProvider(Provider):
    label = "Cohere"
    credentials = (API_KEY, BASE_URL, *QUOTA)
    throughput = 60.0
    remote = True
    max_batch_inputs = 96

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.api_key = credential(API_KEY).value
        self.base_url = (credential(BASE_URL).value or DEFAULT_BASE_URL).rstrip("/")
        self.address = self.base_url

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

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The one place this provider talks HTTP; every failure leaves as a named error."""
        if not self.api_key:
            raise MissingCredentials(
                "Cohere API key is not set: enter it on the settings page or set COHERE_API_KEY"
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
            raise self.timed_out("Cohere") from None
        except httpx2.HTTPError:
            raise ProviderUnreachable(f"cannot connect to Cohere at {self.base_url}") from None
        if 300 <= response.status_code < 400:
            location = response.headers.get("location", "")
            raise self.redirected(response.status_code, location, "COHERE_BASE_URL")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            raise self._named(response.status_code, body, response.headers.get("Retry-After"))
        if not isinstance(body, dict):
            raise ServerError("Cohere sent an answer that is not valid JSON")
        return body

    def _named(self, status: int, body: Any, retry_after: str | None) -> EmbeddingError:
        """Cohere's error answer (`{"message": "…"}`) as a named error; its words are passed on
        only for a refused request, scrubbed of the key."""
        said = body.get("message") if isinstance(body, dict) else None
        message = str(said or "")[:300].replace(self.api_key, "***")
        name = self.model.spec.name
        if status == 401:
            return AuthenticationFailed("Cohere rejected the API key")
        if status == 403:
            return AuthenticationFailed(f"Cohere refused this API key access to {name}")
        if status == 404:
            return ModelNotAvailable(f"Cohere has no embedding model '{name}'")
        if status in (400, 413) and ("at most" in message or "too long" in message):
            return BatchTooLarge(f"Cohere refused the batch as too large: {message}")
        if status == 429:
            wait = parse_retry_after(retry_after)
            return RateLimited("Cohere is rate limiting requests", retry_after=wait)
        if status >= 500:
            return ServerError(f"Cohere answered HTTP {status}")
        return EmbeddingError(f"Cohere refused the request: {message or status}")
