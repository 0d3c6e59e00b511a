"""Google's Generative Language API (Gemini API): the batch embedding call,
up to 100 texts a request. The key goes in a header, never in a URL that could be logged."""

from __future__ import annotations

from typing import Any

import httpx2
from django.conf import settings

import reclio_admin.outbound.wire as wire
from embeddings.providers.base import Provider
from embeddings.providers.credentials import CredentialField, credential
from embeddings.providers.errors import (
    AuthenticationFailed,
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

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"

API_KEY = CredentialField("google_api_key", "Google API key", secret=True)
QUOTA = quota_fields("google", "Google")


class GoogleProvider(Provider):
    label = "Google"
    # GOOGLE_BASE_URL is the environment's alone (settings), not a field of the page.
    credentials = (API_KEY, *QUOTA)
    throughput = 50.0
    remote = True
    max_batch_inputs = 100

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.api_key = credential(API_KEY).value
        self.base_url = (settings.GOOGLE_BASE_URL or DEFAULT_BASE_URL).rstrip("/")
        self.address = self.base_url

    def _embed_batch(self, texts: list[str], *, query: bool) -> list[list[float]]:
        name = self.model.spec.name
        # Google's task types do what prefixes do for other models.
        task = "RETRIEVAL_QUERY" if query else "RETRIEVAL_DOCUMENT"
        reduced = self.dimensions != self.model.spec.dimensions
        payload = {
            "requests": [
                {
                    "model": f"models/{name}",
                    "content": {"parts": [{"text": text}]},
                    "taskType": task,
                    **({"outputDimensionality": self.dimensions} if reduced else {}),
                }
                for text in texts
            ]
        }
        body = self._post(f"/v1beta/models/{name}:batchEmbedContents", payload)
        embeddings = body.get("embeddings")
        if not isinstance(embeddings, list):
            raise InvalidResponse("Google answered without embeddings")
        return [item.get("values") or [] for item in embeddings]

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The one place this provider talks HTTP; every failure leaves as a named error."""
        if not self.api_key:
            raise MissingCredentials(
                "Google API key is not set: enter it on the settings page or set GOOGLE_API_KEY"
            )
        try:
            with self.on_the_wire():
                response = wire.client().post(
                    self.base_url + path,
                    json=payload,
                    headers={"x-goog-api-key": self.api_key},
                    timeout=self.request_timeout(),
                )
        except httpx2.TimeoutException:
            raise self.timed_out("Google") from None
        except httpx2.HTTPError:
            raise ProviderUnreachable(f"cannot connect to Google at {self.base_url}") from None
        if 300 <= response.status_code < 400:
            location = response.headers.get("location", "")
            raise self.redirected(response.status_code, location, "GOOGLE_BASE_URL")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            raise self._named(response.status_code, body, response.headers.get("Retry-After"))
        if not isinstance(body, dict):
            raise ServerError("Google sent an answer that is not valid JSON")
        return body

    def _named(self, status: int, body: Any, retry_after: str | None) -> EmbeddingError:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        error = error if isinstance(error, dict) else {}
        reasons = {d.get("reason") for d in error.get("details", []) if isinstance(d, dict)}
        message = str(error.get("message", ""))[:300].replace(self.api_key, "***")
        name = self.model.spec.name
        if status == 401 or "API_KEY_INVALID" in reasons or "API key not valid" in message:
            return AuthenticationFailed("Google rejected the API key")
        if status == 403:
            return AuthenticationFailed(f"Google refused this API key access to {name}")
        if status == 404:
            return ModelNotAvailable(f"Google has no embedding model '{name}'")
        if status == 429:
            wait = parse_retry_after(retry_after) or _retry_delay(error)
            return RateLimited("Google is rate limiting requests", retry_after=wait)
        if status >= 500:
            return ServerError(f"Google answered HTTP {status}")
        return EmbeddingError(f"Google refused the request: {message or status}")


def _retry_delay(error: dict[str, Any]) -> float | None:
    """Google says how long to wait in a RetryInfo detail ("retryDelay": "30s")."""
    for detail in error.get("details", []):
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            return parse_retry_after(str(detail.get("retryDelay", "")).removesuffix("s"))
    return None
