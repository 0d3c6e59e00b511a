"""Filters for the embedding model page, and the summary on the admin index."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from embeddings.models import EmbeddingJob, EmbeddingSettings, HealthCheck
from embeddings.storage import set_coverage

register = template.Library()


@register.filter
def money(value: Decimal | None) -> str:
    """Dollars: cents for real money, four decimals below a cent so tiny costs are not $0.00."""
    if value is None:
        return "—"
    if value == 0:
        return "free"
    if value < Decimal("0.0001"):
        return "< $0.0001"
    if value < Decimal("0.01"):
        return f"${value:.4f}"
    return f"${value:,.2f}"


@register.filter
def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


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


@register.filter
def thousands(value: int | float | None) -> str:
    return "—" if value is None else f"{round(value):,}"
