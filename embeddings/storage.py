"""What the vectors cover and cost: coverage per model and kind, sizes per table."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count

from catalog.models import CatalogItem
from embeddings.models import table_for
from embeddings.registry import resolve


@dataclass(frozen=True)
class Coverage:
    covered: int
    total: int

    @property
    def complete(self) -> bool:
        return self.total > 0 and self.covered >= self.total

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / self.total if self.total else 0.0


def coverage(model_key: str) -> dict[str, Coverage]:
    """Rows of this model per kind, against the catalog's items of that kind."""
    table = table_for(resolve(model_key).dimensions)
    totals = dict(CatalogItem.objects.values_list("kind").annotate(n=Count("id")).order_by())
    covered = dict(
        table.objects.for_model(model_key)
        .values_list("item__kind")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {
        kind: Coverage(covered.get(kind, 0), totals.get(kind, 0)) for kind in CatalogItem.Kind.values
    }


def total_coverage(model_key: str) -> Coverage:
    parts = coverage(model_key).values()
    return Coverage(sum(p.covered for p in parts), sum(p.total for p in parts))
