"""One module per provider, and their registry: `PROVIDERS` maps the provider part of a model
key to its class. Everything else the product knows of a provider (its label on the settings
page, its connection fields, its throughput guess, its readiness) is read from that class, so
adding a provider is its module, its line here and its models' lines in `embeddings.registry`."""

from __future__ import annotations

import re
from typing import Any

from embeddings.providers.base import Provider, Readiness
from embeddings.providers.cohere import CohereProvider
from embeddings.providers.credentials import CredentialField, credential, mask, page_values
from embeddings.providers.errors import (
    AddressNotAllowed,
    AuthenticationFailed,
    BatchTooLarge,
    EmbeddingError,
    EmbeddingsDisabled,
    InvalidResponse,
    MissingCredentials,
    ModelNotAvailable,
    ProviderBusy,
    ProviderTimeout,
    ProviderUnreachable,
    RateLimited,
    Redirected,
    ServerError,
)
from embeddings.providers.google import GoogleProvider
from embeddings.providers.local import LocalProvider
from embeddings.providers.none import NoneProvider
from embeddings.providers.ollama import OllamaProvider
from embeddings.providers.openai import OpenAIProvider
from embeddings.providers.sources import SOURCES
from embeddings.providers.voyage import VoyageProvider
from embeddings.registry import ResolvedModel, resolve

PROVIDERS: dict[str, type[Provider]] = {
    "openai": OpenAIProvider,
    "ollama": OllamaProvider,
    "google": GoogleProvider,
    "voyage": VoyageProvider,
    "cohere": CohereProvider,
    "local": LocalProvider,
    "none": NoneProvider,
}

_KEY_LIKE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{6,}|AIza[A-Za-z0-9_\-]{10,})")


def get_provider(model: str | ResolvedModel) -> Provider:
    resolved = resolve(model) if isinstance(model, str) else model
    return PROVIDERS[resolved.provider](resolved)


def provider_label(provider: str) -> str:
    """How the settings page names a provider or a content source (its key, when no class is
    registered for it)."""
    found = PROVIDERS.get(provider) or SOURCES.get(provider)
    return found.label or provider if found else provider


def credential_fields() -> dict[str, tuple[str, CredentialField]]:
    """Every provider's credential fields by name, with the provider each belongs to, in the
    registry's order, then the content sources' (TMDb): the connection form's fields."""
    owners: dict[str, type[Provider] | type[Any]] = {**PROVIDERS, **SOURCES}
    return {
        field.name: (owner, field)
        for owner, owner_class in owners.items()
        for field in owner_class.credentials
    }


def scrub(message: str) -> str:
    """Mask anything in a provider's message that looks like, or is, a configured key."""
    saved = page_values()
    for _, field in credential_fields().values():
        value = credential(field, saved).value if field.secret else ""
        if value and value in message:
            message = message.replace(value, mask(value))
    return _KEY_LIKE.sub(lambda m: mask(m.group(0)), message)


__all__ = [
    "PROVIDERS",
    "AddressNotAllowed",
    "AuthenticationFailed",
    "BatchTooLarge",
    "EmbeddingError",
    "EmbeddingsDisabled",
    "InvalidResponse",
    "MissingCredentials",
    "ModelNotAvailable",
    "OllamaProvider",
    "Provider",
    "ProviderBusy",
    "ProviderTimeout",
    "ProviderUnreachable",
    "RateLimited",
    "Readiness",
    "Redirected",
    "ServerError",
    "credential_fields",
    "get_provider",
    "provider_label",
    "scrub",
]
