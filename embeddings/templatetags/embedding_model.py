"""Filters for the embedding model page, and the summary on the admin index."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

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


_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+")


@register.filter
def breakable_urls(text: str) -> SafeString:
    """The text with a line-break chance after each `/`, `:` and `.` of its URLs, so a narrow
    cell wraps an address between its parts and every other word stays whole."""

    def breakable(match: re.Match[str]) -> str:
        return re.sub(r"([/:.])(?=.)", r"\1<wbr>", escape(match.group(0)))

    escaped = []
    position = 0
    for match in _URL.finditer(text):
        escaped += [escape(text[position : match.start()]), breakable(match)]
        position = match.end()
    return mark_safe("".join([*escaped, escape(text[position:])]))


@register.filter
def size(value: int | float | str | None) -> str:
    """Bytes for people, 1,024 to a unit like Django's `filesizeformat`, but never "1000.0 KB":
    a figure that would round to 1,000 or more moves up a unit ("1.0 MB"). No figure (a model
    that stores nothing) reads as a dash."""
    if value is None or value == "":
        return "—"
    amount = float(value)
    if abs(amount) < 1024:
        return "1 byte" if amount == 1 else f"{amount:.0f} bytes"
    amount /= 1024
    for unit in ("KB", "MB", "GB", "TB"):
        if round(abs(amount), 1) < 1000:
            return f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} PB"


@register.filter
def thousands(value: int | float | None) -> str:
    return "—" if value is None else f"{round(value):,}"
