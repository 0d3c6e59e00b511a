"""System checks: configuration Django cannot validate while it loads the settings, because
it needs the model table (run by `manage.py check`, `migrate`, `run` and every other command)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.core.exceptions import ImproperlyConfigured

from embeddings.providers import credential_fields
from embeddings.registry import UnknownModel, resolve


def check_embedding_model(**kwargs: Any) -> list[CheckMessage]:
    """EMBEDDING_MODEL must name a model the registry knows, at a size a table stores."""
    if not settings.EMBEDDING_MODEL:
        return []
    try:
        resolve(settings.EMBEDDING_MODEL)
    except UnknownModel as exc:
        return [
            Error(
                f"EMBEDDING_MODEL={settings.EMBEDDING_MODEL!r} is not a usable model: {exc}",
                hint="Use a key from the settings page, e.g. openai:text-embedding-3-small, "
                "or unset it to follow EMBEDDING_PROVIDER.",
                id="embeddings.E001",
            )
        ]
    return []


def check_provider_environment(**kwargs: Any) -> list[CheckMessage]:
    """Every provider credential's environment variable must read: reclio_admin/settings.py
    checks those it names as it loads; a provider's own variable is read here, at start-up,
    rather than first when a job or a page asks for it."""
    errors: list[CheckMessage] = []
    for _, field in credential_fields().values():
        try:
            field.from_environment()
        except ImproperlyConfigured as exc:
            errors.append(Error(str(exc), id="embeddings.E002"))
    return errors
