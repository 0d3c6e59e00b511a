"""What the hosted providers spoken to with one JSON POST a batch and an API key share (Google,
Voyage AI, Cohere): sending the request, and naming what went wrong. Each keeps its own
request, answer and the errors only its service sends; OpenAI and Ollama go through their own
clients."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx2

import reclio_admin.outbound.wire as wire
from embeddings.providers.base import Provider
from embeddings.providers.credentials import CredentialField, credential
from embeddings.providers.errors import (
    AuthenticationFailed,
    EmbeddingError,
    MissingCredentials,
    ModelNotAvailable,
    ProviderUnreachable,
    RateLimited,
    ServerError,
)
from embeddings.providers.retries import parse_retry_after


class JsonApiProvider(Provider):
    """A subclass names its key's and base URL's credential fields (whose environment
    variables the messages name), builds its payload, reads its answer, and turns its service's
    own error answers into named errors in `_named` (falling back on `named_by_status`)."""

    remote = True
    api_key_field: ClassVar[CredentialField]
    base_url_field: ClassVar[CredentialField]  # its `default` is the service's own address

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.api_key = credential(self.api_key_field).value
        self.base_url = credential(self.base_url_field).value.rstrip("/")
        self.address = self.base_url

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The one place these providers talk HTTP; every failure leaves as a named error."""
        if not self.api_key:
            raise MissingCredentials(
                f"{self.label} API key is not set: enter it on the settings page or set "
                f"{self.api_key_field.env}"
            )
        try:
            with self.on_the_wire():
                response = wire.client().post(
                    self.base_url + path,
                    json=payload,
                    headers=self.auth_headers(),
                    timeout=self.request_timeout(),
                )
        except httpx2.TimeoutException:
            raise self.timed_out(self.label) from None
        except httpx2.HTTPError:
            raise ProviderUnreachable(
                f"cannot connect to {self.label} at {self.base_url}"
            ) from None
        if 300 <= response.status_code < 400:
            location = response.headers.get("location", "")
            raise self.redirected(response.status_code, location, self.base_url_field.env)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            raise self._named(response.status_code, body, response.headers.get("Retry-After"))
        if not isinstance(body, dict):
            raise ServerError(f"{self.label} sent an answer that is not valid JSON")
        return body

    def _named(self, status: int, body: Any, retry_after: str | None) -> EmbeddingError:
        """The service's error answer as a named error."""
        return self.named_by_status(status, "", parse_retry_after(retry_after))

    def scrubbed(self, said: object) -> str:
        """Words of the service's error, short and without the key, fit to pass on."""
        message = str(said or "")[:300]
        return message.replace(self.api_key, "***") if self.api_key else message

    def named_by_status(self, status: int, message: str, wait: float | None) -> EmbeddingError:
        """What an HTTP status says when the answer says nothing more particular; the service's
        `message` is passed on only for a refused request."""
        who, name = self.label, self.model.spec.name
        if status == 401:
            return AuthenticationFailed(f"{who} rejected the API key")
        if status == 403:
            return AuthenticationFailed(f"{who} refused this API key access to {name}")
        if status == 404:
            return ModelNotAvailable(f"{who} has no embedding model '{name}'")
        if status == 429:
            return RateLimited(f"{who} is rate limiting requests", retry_after=wait)
        if status >= 500:
            return ServerError(f"{who} answered HTTP {status}")
        return EmbeddingError(f"{who} refused the request: {message or status}")
