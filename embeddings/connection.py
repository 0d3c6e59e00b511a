"""Provider credentials typed into the settings page, and the probe that tests them.

Keys are write-only: the page shows `sk-…abcd` and where the key comes from, never the value,
and no message or log line carries one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.utils import timezone

from embeddings.models import EmbeddingSettings, HealthCheck
from embeddings.providers import EmbeddingError, get_provider
from embeddings.providers.base import trying
from embeddings.readiness import credential, mask
from embeddings.registry import DEPRECATED, LEGACY, MODELS

PROVIDER_NAMES = {
    "openai": "OpenAI",
    "ollama": "Ollama",
    "google": "Google",
    "local": "Local (on this machine)",
    "none": "None",
}

# field → (provider it belongs to, secret?, label)
FIELDS: dict[str, tuple[str, bool, str]] = {
    "openai_api_key": ("openai", True, "OpenAI API key"),
    "openai_base_url": ("openai", False, "OpenAI base URL"),
    "ollama_host": ("ollama", False, "Ollama host"),
    "google_api_key": ("google", True, "Google API key"),
}

_KEY_LIKE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{6,}|AIza[A-Za-z0-9_\-]{10,})")


def connection_fields(config: EmbeddingSettings) -> list[dict[str, Any]]:
    """What the connection form shows: masked keys, plain URLs, and where each comes from."""
    fields = []
    for name, (_, secret, label) in FIELDS.items():
        value, source = credential(config, name, name.upper())
        fields.append(
            {
                "name": name,
                "label": label,
                "secret": secret,
                "env": name.upper(),
                "source": source,
                "shown": mask(value) if secret else value,
                "stored": bool(getattr(config, name)),
                "value": "" if secret else getattr(config, name),
            }
        )
    return fields


def scrub(message: str) -> str:
    """Mask anything in a provider's message that looks like, or is, a configured key."""
    config = EmbeddingSettings.load()
    for name, (_, secret, _) in FIELDS.items():
        value = credential(config, name, name.upper())[0] if secret else ""
        if value and value in message:
            message = message.replace(value, mask(value))
    return _KEY_LIKE.sub(lambda m: mask(m.group(0)), message)


def probe(key: str) -> float:
    """Embed a probe with this model and record the outcome as a health check; returns the
    latency in ms or raises EmbeddingError with a message safe to show. A page waits at most
    PROVIDER_DEADLINE seconds for it."""
    try:
        latency = get_provider(key).within(settings.PROVIDER_DEADLINE).check()
    except EmbeddingError as exc:
        HealthCheck.objects.create(model_key=key, ok=False, error=scrub(str(exc)))
        raise
    except Exception as exc:  # a library error we did not name: show its kind, not a traceback
        message = f"unexpected {type(exc).__name__} from the provider"
        HealthCheck.objects.create(model_key=key, ok=False, error=message)
        raise EmbeddingError(message) from None
    HealthCheck.objects.create(model_key=key, ok=True, latency_ms=latency)
    return latency


def model_to_test(provider: str, config: EmbeddingSettings) -> str:
    """The model a provider's credentials are tested with: the one in use, else its first
    current model."""
    for key in (config.building_model_key, config.active_model_key):
        if key and key.startswith(f"{provider}:"):
            return key
    specs = [s for s in MODELS if s.provider == provider]
    current = [s for s in specs if s.status not in (LEGACY, DEPRECATED)] or specs
    if not current:
        raise EmbeddingError(f"no {provider} model is known")
    return current[0].key


# What the settings row's text columns are meant to hold; longer is a typo or an attack.
MAX_VALUE_LENGTH = 500


def save_connection(values: Mapping[str, str]) -> dict[str, float]:
    """Apply the connection form's checked values (`ConnectionForm.values`); returns the latency
    of every provider whose credentials changed.

    1. Keep what differs from the stored settings.
    2. Probe every provider whose credentials changed, with the new values, outside any
       transaction or lock (each probe is bounded by PROVIDER_DEADLINE). A failing probe
       raises, and nothing is saved.
    3. Save only the changed fields, in one short UPDATE.
    """
    config = EmbeddingSettings.load()
    changes = {name: value for name, value in values.items() if value != getattr(config, name)}
    for name, value in changes.items():
        setattr(config, name, value)
    changed = sorted({FIELDS[name][0] for name, value in changes.items() if value})
    with trying(config):
        latencies = {key: probe(key) for key in (model_to_test(p, config) for p in changed)}
    if changes:
        EmbeddingSettings.objects.filter(pk=config.pk).update(**changes, updated_at=timezone.now())
    return latencies
