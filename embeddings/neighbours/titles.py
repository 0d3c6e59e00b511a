"""Finding an item by its title: the similar page's search box."""

from __future__ import annotations

from django.db.models import F

from catalog.models import CatalogItem


def find_titles(query: str, *, limit: int = 20) -> list[CatalogItem]:
    """Items whose title contains the query, the best-known first."""
    query = query.strip()
    if not query:
        return []
    items = CatalogItem.objects.filter(title__icontains=query)
    return list(items.order_by(F("vote_count").desc(nulls_last=True), "title")[:limit])
