"""What neighbours are narrowed to: a curator's kind, years and genre, and the item asked about
left out. One class holds the rule in the three forms it is read in: a `Q` over any table keyed
by `item` (vectors, lexical rows), SQL over a catalog row (the lexical postings walk), and a test
of one catalog item in hand (a pinned neighbour). A new filter is a field here and a line in
each form."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from django.db.models import Q

from catalog.models import CatalogItem


@dataclass(frozen=True)
class Filters:
    """`kind` empty means any kind; None and "" filter nothing."""

    kind: str = ""
    year_min: int | None = None
    year_max: int | None = None
    genre: str = ""
    exclude_item_id: int | None = None

    def excluding(self, item_id: int | None) -> Filters:
        """The same filters, with this item left out (the item whose neighbours are asked)."""
        return replace(self, exclude_item_id=item_id)

    def as_q(self) -> Q:
        """The rows, of any table keyed by `item`, whose catalog item passes."""
        passing = Q()
        if self.exclude_item_id is not None:
            passing &= ~Q(item_id=self.exclude_item_id)
        if self.kind:
            passing &= Q(item__kind=self.kind)
        if self.year_min is not None:
            passing &= Q(item__year__gte=self.year_min)
        if self.year_max is not None:
            passing &= Q(item__year__lte=self.year_max)
        if self.genre:
            passing &= Q(item__genres__contains=[self.genre])
        return passing

    def admits(self, item: CatalogItem) -> bool:
        """Whether this catalog item passes."""
        return (
            item.pk != self.exclude_item_id
            and (not self.kind or item.kind == self.kind)
            and (self.year_min is None or (item.year is not None and item.year >= self.year_min))
            and (self.year_max is None or (item.year is not None and item.year <= self.year_max))
            and (not self.genre or self.genre in item.genres)
        )

    def as_sql(self) -> tuple[str, dict[str, Any]]:
        """The filters as SQL over the catalog row `c` ("" when none applies there), and the
        parameters, with the two the postings answer from their own columns: `kinds`, the kinds
        to read, and `exclude`, the item left out."""
        conditions: list[str] = []
        params: dict[str, Any] = {
            "kinds": [self.kind] if self.kind else CatalogItem.Kind.values,
            "exclude": self.exclude_item_id,
        }
        if self.year_min is not None:
            conditions.append("c.year >= %(year_min)s")
            params["year_min"] = self.year_min
        if self.year_max is not None:
            conditions.append("c.year <= %(year_max)s")
            params["year_max"] = self.year_max
        if self.genre:
            conditions.append("c.genres @> ARRAY[%(genre)s]::varchar[]")
            params["genre"] = self.genre
        return " AND ".join(conditions), params


NO_FILTERS = Filters()
