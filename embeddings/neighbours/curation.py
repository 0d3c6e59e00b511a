"""Curators' pins and hides, applied to an item's neighbours: the one rule every path that
serves an item's neighbours asks (the similar page, its compare mode and its JSON). A ranking
of a free text, and the quality measures, are the model's own and are never curated.

- a hidden neighbour never shows, whatever the model, blend or filters;
- a pinned neighbour shows at its rank under every model and blend, even one that never ranked
  it (it then has no score), as long as it passes the page's filters.

Pins and hides name titles by kind and TMDb id (`embeddings.models.curation`), so they are read
here as the catalog items those ids are today.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from django.db.models import OuterRef, Subquery

from catalog.models import CatalogItem
from embeddings.models import Curation, Judgment
from embeddings.neighbours.blends import DEFAULT_WEIGHT, HYBRID, Ranked, blended_neighbours
from embeddings.neighbours.filters import NO_FILTERS, Filters
from embeddings.neighbours.prior import DEFAULT_PRIOR_WEIGHT
from embeddings.registry import ResolvedModel


@dataclass(frozen=True)
class Curated:
    """An item's pins (catalog item id → rank, 1 first) and hidden catalog item ids."""

    pins: dict[int, int] = field(default_factory=dict)
    hidden: frozenset[int] = frozenset()

    def asking(self, k: int) -> int:
        """How many neighbours to ask the blend for, so that k remain once hidden and pinned
        items are taken out."""
        return k + len(self.hidden) + len(self.pins)


NOTHING_CURATED = Curated()


def curation_of(item: CatalogItem) -> Curated:
    """The item's pins and hides, as the catalog items their TMDb ids name today (one query;
    a title no longer in the catalog is left out)."""
    catalog_id = CatalogItem.objects.filter(
        kind=OuterRef("kind"), tmdb_id=OuterRef("neighbour_tmdb_id")
    ).values("id")[:1]
    rows = (
        Curation.objects.about(item)
        .annotate(item_id=Subquery(catalog_id))
        .filter(item_id__isnull=False)
        .values_list("item_id", "action", "rank")
    )
    pins, hidden = {}, set()
    for item_id, action, rank in rows:
        if action == Curation.Action.PIN:
            pins[item_id] = rank
        else:
            hidden.add(item_id)
    return Curated(pins, frozenset(hidden))


def apply_curation(
    found: list[Ranked], curated: Curated, k: int, filters: Filters = NO_FILTERS
) -> list[Ranked]:
    """The first k of a ranked list once curated.

    1. Take hidden and pinned items out of the list.
    2. Put each pin back at its rank, lowest rank first (a pin ranked past the list's end goes
       last): a pin the list held keeps its scores; one it did not is read from the catalog,
       with no score, and left out if it fails the filters.
    3. Keep the first k.
    """
    if not curated.pins and not curated.hidden:
        return found[:k]
    ranked_here = {r.item.pk: r for r in found}
    listed = [r for r in found if r.item.pk not in curated.hidden and r.item.pk not in curated.pins]
    missing = [i for i in curated.pins if i not in ranked_here]
    fetched = CatalogItem.objects.in_bulk(missing) if missing else {}
    for item_id, rank in sorted(curated.pins.items(), key=lambda pin: (pin[1], pin[0])):
        if item_id in ranked_here:
            pinned = replace(ranked_here[item_id], pinned=True)
        elif item_id in fetched and filters.admits(fetched[item_id]):
            pinned = Ranked(fetched[item_id], None, pinned=True)
        else:
            continue
        listed.insert(min(rank - 1, len(listed)), pinned)
    return listed[:k]


def curated_neighbours(
    item: CatalogItem,
    model: ResolvedModel | None,
    *,
    curated: Curated | None = None,
    blend: str = HYBRID,
    k: int = 10,
    weight: float = DEFAULT_WEIGHT,
    prior_weight: float = DEFAULT_PRIOR_WEIGHT,
    filters: Filters = NO_FILTERS,
    metric: str = "cosine",
) -> list[Ranked]:
    """The k neighbours of an item under a blend, with its pins and hides applied (`curated`,
    when the caller read them already for another column)."""
    curated = curation_of(item) if curated is None else curated
    found = blended_neighbours(
        item, model, blend=blend, k=curated.asking(k), weight=weight, prior_weight=prior_weight,
        filters=filters, metric=metric,
    )  # fmt: skip
    return apply_curation(found, curated, k, filters.excluding(item.pk))


# --- What curators said, as the similar page lists it ------------------------------------------


@dataclass(frozen=True)
class Note:
    """What curators said about one neighbour of an item: its judgment, its pin or hide, and the
    neighbour's catalog id today (None: the catalog does not hold that title now)."""

    neighbour_id: int | None
    title: str
    year: int | None
    tmdb_id: int
    judgment: Judgment | None = None
    curation: Curation | None = None


def notes_about(item: CatalogItem) -> list[Note]:
    """Every neighbour curators judged, pinned or hid for this item: pins by rank, then hides,
    then judgments alone, newest first."""
    found: dict[int, Note] = {}
    for judgment in Judgment.objects.about(item).with_titles():
        found[judgment.neighbour_tmdb_id] = _note(judgment, judgment=judgment)
    for curation in Curation.objects.about(item).with_titles():
        earlier = found.get(curation.neighbour_tmdb_id)
        found[curation.neighbour_tmdb_id] = (
            replace(earlier, curation=curation) if earlier else _note(curation, curation=curation)
        )

    def order(note: Note) -> tuple[int, int, float]:
        curation, judged = note.curation, note.judgment
        if curation is not None:
            pinned = curation.action == Curation.Action.PIN
            return (0, curation.rank or 0, 0.0) if pinned else (1, 0, -curation.set_at.timestamp())
        return (2, 0, -judged.set_at.timestamp() if judged else 0.0)

    return sorted(found.values(), key=order)


def _note(row: Any, judgment: Judgment | None = None, curation: Curation | None = None) -> Note:
    """A row read `with_titles()`, as a note about its neighbour."""
    title = row.neighbour_title or f"TMDb {row.neighbour_tmdb_id} (not in the catalog)"
    return Note(
        row.neighbour_id, title, row.neighbour_year, row.neighbour_tmdb_id, judgment, curation
    )
