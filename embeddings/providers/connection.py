"""Provider credentials typed into the settings page, tested with the one probe
(embeddings.providers.probe) before they are kept.

Keys are write-only: the page shows `sk-…abcd` and where the key comes from, never the value,
and no message or log line carries one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from embeddings.models import EmbeddingSettings, ProviderCredential
from embeddings.providers import EmbeddingError, credential_fields
from embeddings.providers.credentials import credential, mask, reading, saved_values
from embeddings.providers.probe import probe
from embeddings.registry import DEPRECATED, LEGACY, MODELS


def connection_fields() -> list[dict[str, Any]]:
    """What the connection form shows: masked keys, plain URLs, and where each comes from."""
    saved = saved_values()
    fields = []
    for name, (_, field) in credential_fields().items():
        found = credential(field, saved)
        value = found.value if found.source else ""  # a default is not a value anyone set
        fields.append(
            {
                "name": name,
                "label": field.label,
                "secret": field.secret,
                "env": field.env,
                "source": found.source,
                "shown": mask(value) if field.secret else value,
                "stored": bool(saved.get(name)),
                "value": "" if field.secret else saved.get(name, ""),
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

    1. Keep what differs from the stored values.
    2. Probe every provider whose credentials changed, with the new values, outside any
       transaction or lock (each probe is bounded by PROVIDER_DEADLINE). A failing probe
       raises, and nothing is saved.
    3. Save only the changed fields, in one short transaction.
    """
    saved = saved_values()
    changes = {name: value for name, value in values.items() if value != saved.get(name, "")}
    fields = credential_fields()
    changed = sorted({fields[name][0] for name, value in changes.items() if value})
    config = EmbeddingSettings.load()
    with reading(saved | changes):
        latencies = {key: probe(key) for key in (model_to_test(p, config) for p in changed)}
    if changes:
        ProviderCredential.store(changes)
    return latencies
