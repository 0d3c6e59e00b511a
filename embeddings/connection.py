"""Provider credentials typed into the settings page, and the probe that tests them.

Keys are write-only: the page shows `sk-…abcd` and where the key comes from, never the value,
and no message or log line carries one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone

from embeddings.addresses import AddressRefused, check_provider_url
from embeddings.models import EmbeddingSettings, HealthCheck
from embeddings.providers import EmbeddingError, get_provider
from embeddings.providers.base import trying
from embeddings.readiness import credential, mask
from embeddings.registry import DEPRECATED, LEGACY, MODELS, UnknownModel, resolve

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


def chosen_model_key(data: Mapping[str, str]) -> str:
    """The model key a form names: `model` plus an optional reduced `dimensions`."""
    model = (data.get("model") or "").strip()
    if not model:
        raise UnknownModel("Choose a model first.")
    dims = (data.get("dimensions") or "").strip()
    resolved = resolve(model)
    if dims and dims != str(resolved.dimensions):
        resolved = resolve(f"{resolved.spec.key}@{dims}")
    return resolved.key


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


def save_connection(data: Mapping[str, str]) -> dict[str, float]:
    """Apply the connection form; returns the latency of every provider whose credentials changed.

    1. Read only what the form sent: a field it left out keeps its stored value, a blank key
       keeps the stored key (the page never renders it back), `clear_<field>` empties a key.
    2. Check every value: at most MAX_VALUE_LENGTH characters; URLs are http(s) and point at
       neither a link-local nor a cloud-metadata address.
    3. Probe every provider whose credentials changed, with the new values, outside any
       transaction or lock (each probe is bounded by PROVIDER_DEADLINE). A failing probe
       raises, and nothing is saved.
    4. Save only the changed fields, in one short UPDATE.
    """
    config = EmbeddingSettings.load()
    changes: dict[str, str] = {}
    for name, (_, secret, label) in FIELDS.items():
        if name not in data and f"clear_{name}" not in data:
            continue
        value = "" if secret and data.get(f"clear_{name}") else _checked(data, name, label)
        if secret and not value and not data.get(f"clear_{name}"):
            continue
        if value != getattr(config, name):
            changes[name] = value
    for name, value in changes.items():
        setattr(config, name, value)
    changed = sorted({FIELDS[name][0] for name, value in changes.items() if value})
    with trying(config):
        latencies = {key: probe(key) for key in (model_to_test(p, config) for p in changed)}
    if changes:
        EmbeddingSettings.objects.filter(pk=config.pk).update(**changes, updated_at=timezone.now())
    return latencies


def _checked(data: Mapping[str, str], name: str, label: str) -> str:
    value = (data.get(name) or "").strip()
    if len(value) > MAX_VALUE_LENGTH:
        raise ValidationError(f"{label}: at most {MAX_VALUE_LENGTH} characters, not {len(value)}.")
    if value and not FIELDS[name][1]:
        try:
            URLValidator(schemes=["http", "https"])(value)
        except ValidationError:
            raise ValidationError(f"{label}: enter a URL such as http://host:port.") from None
        try:
            check_provider_url(value)
        except AddressRefused as exc:
            raise ValidationError(f"{label}: not allowed: {exc}.") from None
    return value
