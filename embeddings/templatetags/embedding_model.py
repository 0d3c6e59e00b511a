"""The embedding summary on the admin index: active model, the one being built, what the
active model's set lacks, health, jobs."""

from __future__ import annotations

from typing import Any

from django import template

from embeddings.jobs.stale import Backlog
from embeddings.models import EmbeddingJob, EmbeddingSettings, HealthCheck
from embeddings.registry import UnknownModel, resolve
from embeddings.storage import set_backlog, set_coverage

register = template.Library()


@register.inclusion_tag("embeddings/embedding_model.html#summary", takes_context=True)
def embedding_summary(context: template.Context) -> dict[str, Any]:
    """Active model, model being built, the active set's backlog, last health check and
    running jobs, for the index (its button needs the page's permissions and CSRF token)."""
    config = EmbeddingSettings.load()
    building = config.building_key
    return {
        "active_key": config.active_key,
        "backlog": active_backlog(config.active_key),
        "building_key": building,
        "building_coverage": set_coverage(building) if building else None,
        "last_check": HealthCheck.objects.first(),
        "running_jobs": list(
            EmbeddingJob.objects.active().with_workers().order_by("created_at")[:10]
        ),
        "perms": context.get("perms"),
        "csrf_token": context.get("csrf_token"),
    }


def active_backlog(key: str) -> Backlog | None:
    """What the active set lacks, all kinds together; None when embeddings are off (nothing is
    owed) or the key is one this version no longer knows."""
    try:
        model = resolve(key)
    except UnknownModel:
        return None
    if model.provider == "none":
        return None
    found = set_backlog(model).values()
    return Backlog(sum(b.missing for b in found), sum(b.changed for b in found))
