"""The one provider probe: embed a short text with a model and keep the outcome as a
HealthCheck row, its error scrubbed of secrets. The settings page's "Test connection" and
credential saves, the hourly health check and `manage.py check_provider` all ask it."""

from __future__ import annotations

from django.conf import settings

from embeddings.models import HealthCheck
from embeddings.providers import EmbeddingError, get_provider, scrub
from embeddings.registry import UnknownModel, resolve


def check(key: str, *, deadline: float | None = None) -> HealthCheck:
    """Probe `key` (within `deadline` seconds in all, when given) and record the outcome.

    1. Build the provider and embed one probe text (Ollama first asks which models are pulled).
    2. A named failure keeps its message, scrubbed; a library error nobody named keeps only its
       kind, never a traceback or what it carried.
    3. Record a HealthCheck row either way and return it; nothing is raised.
    """
    try:
        provider = get_provider(key)
        latency = (provider.within(deadline) if deadline else provider).check()
    except (EmbeddingError, UnknownModel) as exc:
        error = scrub(str(exc)) or type(exc).__name__
    except Exception as exc:
        error = f"unexpected {type(exc).__name__} from the provider"
    else:
        return HealthCheck.objects.create(model_key=key, ok=True, latency_ms=latency)
    return HealthCheck.objects.create(model_key=key, ok=False, error=error)


def probe(key: str) -> float:
    """What a page asks: the check within PROVIDER_DEADLINE; returns the latency in ms, or raises
    EmbeddingError with the recorded (safe to show) message. An unknown key is the form's error:
    UnknownModel, and nothing is recorded."""
    resolve(key)
    result = check(key, deadline=settings.PROVIDER_DEADLINE)
    if not result.ok:
        raise EmbeddingError(result.error)
    return float(result.latency_ms or 0.0)
