"""Where catalog content comes from, beside the embedding providers: TMDb, for the content sync.
Its key is a field of the connection form like a provider's, stored and masked the same way,
and tested with one TMDb request before it is kept."""

from __future__ import annotations

import time
from typing import ClassVar

from django.conf import settings

from catalog.tmdb.client import TMDbClient, TMDbError
from embeddings.providers.credentials import CredentialField, credential
from embeddings.providers.errors import EmbeddingError

API_KEY = CredentialField(
    "tmdb_api_key", "TMDb API key or read access token", secret=True, env="TMDB_API_KEY"
)


class TMDbSource:
    """TMDb's API: the content sync's client, with the key the page saved, else TMDB_API_KEY."""

    label: ClassVar[str] = "TMDb (content sync)"
    credentials: ClassVar[tuple[CredentialField, ...]] = (API_KEY,)

    @staticmethod
    def configured() -> bool:
        return bool(credential(API_KEY).value)

    @staticmethod
    def client(base_url: str = "", requests_per_second: float | None = None) -> TMDbClient:
        return TMDbClient(credential(API_KEY).value, base_url, requests_per_second)

    @classmethod
    def probe(cls) -> float:
        """The key proven by one request within PROVIDER_DEADLINE; the latency in ms, or an
        EmbeddingError the connection form shows."""
        started = time.monotonic()
        try:
            cls.client().check(settings.PROVIDER_DEADLINE)
        except TMDbError as exc:
            raise EmbeddingError(str(exc)) from None
        return (time.monotonic() - started) * 1000


# The sources whose fields the connection form shows, after the providers'.
SOURCES: dict[str, type[TMDbSource]] = {"tmdb": TMDbSource}
