"""One module per provider; `get_provider(key)` picks the class from the key's provider part."""

from __future__ import annotations

from embeddings.providers.base import (
    AuthenticationFailed,
    EmbeddingError,
    EmbeddingsDisabled,
    InvalidResponse,
    MissingCredentials,
    ModelNotAvailable,
    Provider,
    ProviderTimeout,
    ProviderUnreachable,
    RateLimited,
    ServerError,
)
from embeddings.providers.google import GoogleProvider
from embeddings.providers.local import LocalProvider
from embeddings.providers.none import NoneProvider
from embeddings.providers.ollama import OllamaProvider
from embeddings.providers.openai import OpenAIProvider
from embeddings.registry import ResolvedModel, resolve

PROVIDERS: dict[str, type[Provider]] = {
    "openai": OpenAIProvider,
    "ollama": OllamaProvider,
    "google": GoogleProvider,
    "local": LocalProvider,
    "none": NoneProvider,
}


def get_provider(model: str | ResolvedModel) -> Provider:
    resolved = resolve(model) if isinstance(model, str) else model
    return PROVIDERS[resolved.provider](resolved)


__all__ = [
    "AuthenticationFailed",
    "EmbeddingError",
    "EmbeddingsDisabled",
    "InvalidResponse",
    "MissingCredentials",
    "ModelNotAvailable",
    "OllamaProvider",
    "Provider",
    "ProviderTimeout",
    "ProviderUnreachable",
    "RateLimited",
    "ServerError",
    "get_provider",
]
