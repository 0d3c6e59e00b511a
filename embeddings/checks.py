"""System checks: configuration Django cannot validate while it loads the settings, because
it needs the model table (run by `manage.py check`, `migrate`, `run` and every other command)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error

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
