"""The embedding summary on the admin index: active model, the one being built, health, jobs."""

from __future__ import annotations

from typing import Any

from django import template

from embeddings.models import EmbeddingJob, EmbeddingSettings, HealthCheck
from embeddings.storage import set_coverage

register = template.Library()


@register.inclusion_tag("embeddings/embedding_model.html#summary")
def embedding_summary() -> dict[str, Any]:
    """Active model, model being built, last health check and running jobs, for the index."""
    config = EmbeddingSettings.load()
    building = config.building_key
    return {
        "active_key": config.active_key,
        "building_key": building,
        "building_coverage": set_coverage(building) if building else None,
        "last_check": HealthCheck.objects.first(),
        "running_jobs": list(
            EmbeddingJob.objects.active().with_workers().order_by("created_at")[:10]
        ),
    }
