"""Google's Generative Language API (Gemini API): the batch embedding call,
up to 100 texts a request. The key goes in a header, never in a URL that could be logged."""

from __future__ import annotations

from typing import Any

from embeddings.providers.credentials import CredentialField
from embeddings.providers.errors import (
    EmbeddingError,
    InvalidResponse,
)
from embeddings.providers.json_api import JsonApiProvider
from embeddings.providers.pacing import quota_fields
from embeddings.providers.retries import parse_retry_after

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"

API_KEY = CredentialField("google_api_key", "Google API key", secret=True)
# GOOGLE_BASE_URL is the environment's alone (settings): not among the page's fields.
BASE_URL = CredentialField("google_base_url", "Google base URL", default=DEFAULT_BASE_URL)
QUOTA = quota_fields("google", "Google")


class GoogleProvider(JsonApiProvider):
    label = "Google"
    api_key_field, base_url_field = API_KEY, BASE_URL
    credentials = (API_KEY, *QUOTA)
    throughput = 50.0
    max_batch_inputs = 100

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

    def auth_headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.api_key}

    def _named(self, status: int, body: Any, retry_after: str | None) -> EmbeddingError:
        """Google's error answer (`{"error": {"message", "details"}}`) as a named error: a bad
        key can come as a 400, and a 429 may say how long to wait in its details."""
        error = body.get("error", {}) if isinstance(body, dict) else {}
        error = error if isinstance(error, dict) else {}
        reasons = {d.get("reason") for d in error.get("details", []) if isinstance(d, dict)}
        message = self.scrubbed(error.get("message"))
        if "API_KEY_INVALID" in reasons or "API key not valid" in message:
            status = 401
        wait = parse_retry_after(retry_after) or _retry_delay(error)
        return self.named_by_status(status, message, wait)


def _retry_delay(error: dict[str, Any]) -> float | None:
    """Google says how long to wait in a RetryInfo detail ("retryDelay": "30s")."""
    for detail in error.get("details", []):
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            return parse_retry_after(str(detail.get("retryDelay", "")).removesuffix("s"))
    return None
