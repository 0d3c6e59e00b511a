"""Provider credentials typed into the settings page, tested with the one probe
(embeddings.providers.probe) before they are kept.

Keys are write-only: the page shows `sk-…abcd` and where the key comes from, never the value,
and no message or log line carries one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from embeddings.models import EmbeddingSettings, ProviderCredential
from embeddings.providers import EmbeddingError, credential_fields, provider_label
from embeddings.providers.credentials import credential, mask, reading, saved_values
from embeddings.providers.probe import probe
from embeddings.providers.sources import SOURCES
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
                "per_minute": field.per_minute,
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


@dataclass
class ConnectionSave:
    """What a save of the connection form did, provider by provider: the providers (by label)
    whose changes were kept, the probe's answer time by the model key it tested, and why each
    of the others (by label) was not kept."""

    saved: list[str] = dataclass_field(default_factory=list)
    answered: dict[str, float] = dataclass_field(default_factory=dict)
    failed: dict[str, str] = dataclass_field(default_factory=dict)


def save_connection(values: Mapping[str, str]) -> ConnectionSave:
    """Apply the connection form's checked values (`ConnectionForm.values`), each provider's
    fields on their own: one provider that does not answer keeps none of its own changes, and
    takes no other provider's with it.

    1. Keep what differs from the stored values, grouped by provider.
    2. Probe every provider that got a new value, with its new values, outside any transaction
       or lock (each probe is bounded by PROVIDER_DEADLINE); a failure is noted, scrubbed of
       secrets by the probe. A provider whose change only clears values needs no probe.
    3. Save the changes of the providers that answered (or needed no probe), in one short
       transaction.
    """
    saved = saved_values()
    fields = credential_fields()
    changes: dict[str, dict[str, str]] = {}
    for name, value in values.items():
        if value != saved.get(name, ""):
            changes.setdefault(fields[name][0], {})[name] = value
    config = EmbeddingSettings.load()
    outcome = ConnectionSave()
    kept: dict[str, str] = {}
    for provider, changed in changes.items():
        label = provider_label(provider)
        # A limit a minute is ours alone: only a new key or address needs the provider's answer.
        if any(value for name, value in changed.items() if not fields[name][1].per_minute):
            try:
                with reading(saved | changed):
                    name, latency = _tested(provider, config)
                outcome.answered[name] = latency
            except EmbeddingError as exc:
                outcome.failed[label] = str(exc)
                continue
        kept |= changed
        outcome.saved.append(label)
    if kept:
        ProviderCredential.store(kept)
    return outcome


def _tested(owner: str, config: EmbeddingSettings) -> tuple[str, float]:
    """(what answered, its time in ms): a provider's model, or a content source (TMDb) by its
    label."""
    if source := SOURCES.get(owner):
        return source.label, source.probe()
    key = model_to_test(owner, config)
    return key, probe(key)
