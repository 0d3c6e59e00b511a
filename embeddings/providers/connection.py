"""Provider credentials typed into the settings page, tested with the one probe
(embeddings.providers.probe) before they are kept.

Keys are write-only: the page shows `sk-…abcd` and where the key comes from, never the value,
and no message or log line carries one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from embeddings.models import EmbeddingSettings
from embeddings.providers import EmbeddingError
from embeddings.providers.credentials import (
    SECRET_FIELDS,
    credential,
    environment_variable,
    mask,
    trying,
)
from embeddings.providers.probe import probe
from embeddings.registry import DEPRECATED, LEGACY, MODELS

PROVIDER_NAMES = {
    "openai": "OpenAI",
    "ollama": "Ollama",
    "google": "Google",
    "local": "Local (on this machine)",
    "none": "None",
}

# field → (provider it belongs to, secret?, label); which are secret is credentials' to say
FIELDS: dict[str, tuple[str, bool, str]] = {
    name: (provider, name in SECRET_FIELDS, label)
    for name, (provider, label) in {
        "openai_api_key": ("openai", "OpenAI API key"),
        "openai_base_url": ("openai", "OpenAI base URL"),
        "ollama_host": ("ollama", "Ollama host"),
        "google_api_key": ("google", "Google API key"),
    }.items()
}


def connection_fields(config: EmbeddingSettings) -> list[dict[str, Any]]:
    """What the connection form shows: masked keys, plain URLs, and where each comes from."""
    fields = []
    for name, (_, secret, label) in FIELDS.items():
        value, source = (found := credential(name, config)).value, found.source
        fields.append(
            {
                "name": name,
                "label": label,
                "secret": secret,
                "env": environment_variable(name),
                "source": source,
                "shown": mask(value) if secret else value,
                "stored": bool(getattr(config, name)),
                "value": "" if secret else getattr(config, name),
            }
        )
    return fields


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
