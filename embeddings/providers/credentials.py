"""Provider credentials and addresses: what an admin saved on the settings page, else the
environment variable of the same name. The one place that looks them up, and that keeps them
out of what people read: pages show `sk-…abcd`, messages are scrubbed."""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.apps import apps
from django.conf import settings

if TYPE_CHECKING:
    from embeddings.models import EmbeddingSettings

# The fields of EmbeddingSettings that hold a secret; each falls back to FIELD.upper().
SECRET_FIELDS = ("openai_api_key", "google_api_key")
_KEY_LIKE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{6,}|AIza[A-Za-z0-9_\-]{10,})")


_unsaved: contextvars.ContextVar[EmbeddingSettings | None] = contextvars.ContextVar(
    "unsaved_settings", default=None
)


@contextmanager
def trying(config: EmbeddingSettings) -> Iterator[None]:
    """Inside the block, credentials are read from `config`, an EmbeddingSettings not saved yet:
    the connection form tests new values before it keeps them, without holding the settings row
    meanwhile (and a failure's message is scrubbed of the key being tried)."""
    token = _unsaved.set(config)
    try:
        yield
    finally:
        _unsaved.reset(token)


def _current() -> EmbeddingSettings:
    if (unsaved := _unsaved.get()) is not None:
        return unsaved
    # Looked up by name, so that importing a provider (which asks this module) needs no app
    # registry: a shell or a subprocess may load a local model without setting Django up.
    model: type[EmbeddingSettings] = apps.get_model("embeddings", "EmbeddingSettings")
    return model.load()


@dataclass(frozen=True)
class Credential:
    value: str
    source: str  # "page", "environment", or "" when neither has one


def environment_variable(field: str) -> str:
    return field.upper()


def credential(field: str, config: EmbeddingSettings | None = None) -> Credential:
    """The value a provider will use for `field`, and where it comes from."""
    config = config or _current()
    if saved := (getattr(config, field) or "").strip():
        return Credential(saved, "page")
    if value := (getattr(settings, environment_variable(field), "") or "").strip():
        return Credential(value, "environment")
    return Credential("", "")


def mask(secret: str) -> str:
    """How a stored key is shown: `sk-…abcd`, never more."""
    if not secret:
        return ""
    if len(secret) < 12:
        return "…" + secret[-2:]
    return f"{secret[:3]}…{secret[-4:]}"


def scrub(message: str, config: EmbeddingSettings | None = None) -> str:
    """Mask anything in a provider's message that looks like, or is, a configured key."""
    config = config or _current()
    for field in SECRET_FIELDS:
        value = credential(field, config).value
        if value and value in message:
            message = message.replace(value, mask(value))
    return _KEY_LIKE.sub(lambda m: mask(m.group(0)), message)
