"""Ollama over its HTTP API: `POST /api/embed` with a list input, and
`GET /api/tags` to tell a model that is not pulled from a server that is down. The settings
page and a job read OLLAMA_HOST the same way: through this provider."""

from __future__ import annotations

from typing import Any

import httpx2
from django.core.cache import cache

import reclio_admin.outbound.wire as wire
from embeddings.providers.base import Provider, Readiness
from embeddings.providers.credentials import CredentialField, credential
from embeddings.providers.errors import (
    EmbeddingError,
    InvalidResponse,
    ModelNotAvailable,
    ProviderBusy,
    ProviderUnreachable,
    RateLimited,
    ServerError,
)
from embeddings.providers.retries import parse_retry_after
from embeddings.providers.tokenizers import (
    BERT_UNCASED,
    count_with,
    load_tokenizer,
    truncate_with,
)
from reclio_admin.env import with_scheme

DEFAULT_HOST = "http://localhost:11434"
HOST = CredentialField("ollama_host", "Ollama host", default=DEFAULT_HOST)

READINESS_TIMEOUT = 0.5  # seconds: the settings page renders even when Ollama is down
READINESS_CACHE_SECONDS = 60


def ollama_host() -> str:
    """The server a provider talks to: the page's host, else OLLAMA_HOST; a bare `host:port`
    reads as http://host:port, the way Ollama's own client reads it."""
    return with_scheme(credential(HOST).value or DEFAULT_HOST)


class OllamaProvider(Provider):
    label = "Ollama"
    credentials = (HOST,)
    throughput = 20.0
    remote = True
    max_batch_inputs = 512

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.host = self.address = ollama_host()
        self.exact_tokens = self.tokenizer_key == "wordpiece:bert-base-uncased"

    def count_tokens(self, text: str) -> int:
        if not self.exact_tokens:
            return super().count_tokens(text)
        return count_with(load_tokenizer(BERT_UNCASED), text)

    def truncate(self, text: str) -> str:
        if not self.exact_tokens:
            return super().truncate(text)
        return truncate_with(load_tokenizer(BERT_UNCASED), text, self.max_tokens)

    def pulled_models(self) -> set[str]:
        """The models pulled into the server (`:latest` left off); raises the named error when
        the server does not answer."""
        tags = self._request("GET", "/api/tags")
        models = tags.get("models")
        found = models if isinstance(models, list) else []
        return {
            str(m.get("name", "")).removesuffix(":latest") for m in found if isinstance(m, dict)
        }

    def is_pulled(self, names: set[str]) -> bool:
        return self.model.spec.name.removesuffix(":latest") in names

    def readiness(self) -> Readiness:
        """Pulled into the server, as its list of models said within the last minute."""
        try:
            pulled = self._cached_pulled_models()
        except ProviderBusy:
            return Readiness(False, "not checked: the server is busy with other provider calls")
        if pulled is None:
            return Readiness(False, f"Ollama not reachable at {self.host}")
        if self.is_pulled(pulled):
            return Readiness(True, "pulled")
        return Readiness(False, f"not pulled: ollama pull {self.model.spec.name}")

    def _cached_pulled_models(self) -> set[str] | None:
        """`pulled_models` asked within READINESS_TIMEOUT and kept a minute per host; None when
        the server does not answer."""
        key = f"reclio:ollama-tags:{self.host}"
        cached = cache.get(key)
        if cached is not None:
            return None if cached == "down" else set(cached)
        try:
            names = self.within(READINESS_TIMEOUT).pulled_models()
        except ProviderBusy:
            raise
        except EmbeddingError:
            cache.set(key, "down", READINESS_CACHE_SECONDS)
            return None
        cache.set(key, sorted(names), READINESS_CACHE_SECONDS)
        return names

    def check(self) -> float:
        """Ask which models are pulled first, so a missing model is named as such."""
        if not self.is_pulled(self.pulled_models()):
            raise self._not_pulled()
        return super().check()

    def _embed_batch(self, texts: list[str], *, query: bool) -> list[list[float]]:
        payload = {"model": self.model.spec.name, "input": texts, "truncate": True}
        body = self._request("POST", "/api/embed", payload)
        vectors = body.get("embeddings")
        if not isinstance(vectors, list):
            raise InvalidResponse("Ollama answered without embeddings")
        self._add_tokens(int(body.get("prompt_eval_count") or 0))
        return vectors

    def _request(self, method: str, path: str, payload: Any = None) -> dict[str, Any]:
        """The one place this provider talks HTTP; every failure leaves as a named error."""
        try:
            with self.on_the_wire():
                response = wire.client().request(
                    method, self.host + path, json=payload, timeout=self.request_timeout()
                )
        except httpx2.TimeoutException:
            raise self.timed_out(f"Ollama at {self.host}") from None
        except httpx2.HTTPError:
            raise ProviderUnreachable(f"cannot connect to Ollama at {self.host}") from None
        if 300 <= response.status_code < 400:
            location = response.headers.get("location", "")
            raise self.redirected(response.status_code, location, "Ollama host")
        if response.status_code == 404:
            raise self._not_pulled()
        try:
            body = response.json()
        except ValueError:
            body = None
        message = str(body.get("error", ""))[:300] if isinstance(body, dict) else ""
        if response.status_code == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise RateLimited("Ollama is too busy (HTTP 429)", retry_after=retry_after)
        if response.status_code >= 500:
            raise ServerError(
                f"Ollama answered HTTP {response.status_code}: {message}".rstrip(": ")
            )
        if response.status_code >= 400:
            raise EmbeddingError(f"Ollama refused the request: {message or response.status_code}")
        if not isinstance(body, dict):
            raise ServerError("Ollama sent an answer that is not valid JSON")
        return body

    def _not_pulled(self) -> ModelNotAvailable:
        name = self.model.spec.name
        return ModelNotAvailable(f"model '{name}' is not pulled: run `ollama pull {name}`")
