"""OpenAI, and any OpenAI-compatible server (vLLM, LM Studio, text-embeddings-inference) when
OPENAI_BASE_URL points elsewhere. Uses the official client with its own retries off, so that
retries follow the one bounded policy in `retries.with_retries`."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import openai
from django.conf import settings

import reclio_admin.outbound.wire as wire
from embeddings.providers.base import Answer, Provider, Vectors
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
from embeddings.providers.tokenizers import count_openai, truncate_openai

DEFAULT_BASE_URL = "https://api.openai.com/v1"

API_KEY = CredentialField("openai_api_key", "OpenAI API key", secret=True)
BASE_URL = CredentialField("openai_base_url", "OpenAI base URL", default=DEFAULT_BASE_URL)
QUOTA = quota_fields("openai", "OpenAI")


class OpenAIProvider(Provider):
    label = "OpenAI"
    credentials = (API_KEY, BASE_URL, *QUOTA)
    throughput = 150.0
    remote = True
    max_batch_inputs = 2048
    max_batch_tokens = 300_000

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        # OpenAI's own models count with cl100k_base; a model on a compatible server has its
        # own tokenizer, which only that server knows, so its counts are estimates.
        self.exact_tokens = self.tokenizer_key == "tiktoken:cl100k_base"
        self.api_key = credential(API_KEY).value
        self.base_url = self.address = credential(BASE_URL).value
        self._client: openai.OpenAI | None = None

    def count_tokens(self, text: str) -> int:
        if not self.exact_tokens:
            return super().count_tokens(text)
        return count_openai(text)

    def truncate(self, text: str) -> str:
        if not self.exact_tokens:
            return super().truncate(text)
        return truncate_openai(text, self.max_tokens)

    @property
    def client(self) -> openai.OpenAI:
        # Asked even of compatible servers that ignore it: any value serves them, and a key
        # forgotten for OpenAI itself is named before anything is sent.
        if not self.api_key:
            raise MissingCredentials(
                "OpenAI API key is not set: enter it on the settings page or set OPENAI_API_KEY"
            )
        if self._client is None:
            self._client = openai.OpenAI(
                api_key=self.api_key,
                base_url=self.base_url,
                timeout=settings.EMBEDDING_TIMEOUT,
                max_retries=0,
                http_client=wire.client(),
            )
        return self._client

    def _embed_batch(self, texts: list[str], *, query: bool) -> Answer:
        options: dict[str, Any] = {}
        if self.model.spec.dimensions and self.dimensions != self.model.spec.dimensions:
            options["dimensions"] = self.dimensions
        client = self.client
        try:
            # The raw answer, read here: the client's own parsing builds a model object and a
            # list of Python floats per vector, which cost more CPU than the rest of a batch.
            with self.on_the_wire():
                response = client.embeddings.with_raw_response.create(
                    model=self.model.spec.name,
                    input=texts,
                    encoding_format="base64",
                    timeout=self.request_timeout(),
                    **options,
                )
        except openai.APIError as error:
            raise self._named(error) from None
        answer, tokens = _read_answer(response.content)
        if tokens is not None:
            self._add_tokens(tokens)
        return answer

    def _named(self, error: openai.APIError) -> EmbeddingError:
        """The client's exception as a named error. The server's own message is only passed on
        for 400s (it says what was wrong with the input); a 401's message echoes part of the key."""
        name = self.model.spec.name
        if isinstance(error, openai.APITimeoutError):
            return self.timed_out("OpenAI")
        if isinstance(error, openai.APIConnectionError):
            return ProviderUnreachable(f"cannot connect to OpenAI at {self.base_url}")
        if isinstance(error, openai.AuthenticationError):
            return AuthenticationFailed("OpenAI rejected the API key")
        if isinstance(error, openai.PermissionDeniedError):
            return AuthenticationFailed(f"OpenAI refused this API key access to {name}")
        if isinstance(error, openai.NotFoundError):
            return ModelNotAvailable(f"OpenAI has no model '{name}' (or this key cannot use it)")
        if isinstance(error, openai.RateLimitError):
            if _code(error) == "insufficient_quota":
                return EmbeddingError("OpenAI says the account's quota is used up: check billing")
            retry_after = parse_retry_after(error.response.headers.get("retry-after"))
            return RateLimited(
                f"OpenAI is rate limiting requests: {_message(error, self.api_key)}",
                retry_after=retry_after,
            )
        if isinstance(error, openai.APIStatusError) and 300 <= error.status_code < 400:
            location = error.response.headers.get("location", "")
            return self.redirected(error.status_code, location, "OpenAI base URL")
        if isinstance(error, openai.BadRequestError):
            return EmbeddingError(f"OpenAI refused the request: {_message(error, self.api_key)}")
        if isinstance(error, openai.APIStatusError):
            return ServerError(f"OpenAI answered HTTP {error.status_code}")
        # APIResponseValidationError and friends: a 200 whose body is not the embeddings shape.
        return ServerError("OpenAI sent an answer that is not valid embeddings JSON")


def _read_answer(body: bytes) -> tuple[Answer, int | None]:
    """The vectors of an embeddings answer with the index each names (`check_answer` puts them
    in input order), and the tokens it says it counted.

    Vectors come as base64 of little-endian float32 (what was asked for), or as lists of
    floats from a compatible server that ignores `encoding_format`."""
    try:
        answer = json.loads(body)
        data = answer["data"]
        if not isinstance(data, list):
            raise TypeError
        embeddings = [item["embedding"] for item in data]
        indexes: list[object] = [item["index"] for item in data]
        if all(isinstance(embedding, str) for embedding in embeddings):
            rows = [np.frombuffer(base64.b64decode(e), dtype="<f4") for e in embeddings]
            vectors: Vectors = _stacked(rows)
        elif all(isinstance(embedding, list) for embedding in embeddings):
            vectors = embeddings
        else:
            raise InvalidResponse("OpenAI sent something that is not a vector")
        usage = answer.get("usage")
        tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    except (ValueError, KeyError, TypeError):  # not JSON, or not the embeddings shape
        raise ServerError("OpenAI sent an answer that is not valid embeddings JSON") from None
    return Answer(vectors, indexes), tokens if isinstance(tokens, int) else None


def _stacked(rows: list[np.ndarray]) -> Vectors:
    # Rows of different lengths are left apart, for the dimension check to name.
    return np.vstack(rows) if len({len(row) for row in rows}) == 1 else [r.tolist() for r in rows]


def _code(error: openai.APIError) -> str:
    return str(getattr(error, "code", "") or "")


def _message(error: openai.APIError, secret: str) -> str:
    body = error.body if isinstance(error.body, dict) else {}
    message = str(body.get("message") or error.message or "")[:300]
    return message.replace(secret, "***") if secret else message
