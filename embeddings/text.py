"""The one function that turns a catalog item into the text that gets embedded."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from catalog.models import CatalogItem

_SPACE = re.compile(r"\s+")


# The fields `item_text` reads, so callers can fetch just these with `values_list`.
TEXT_FIELDS = (
    "kind",
    "title",
    "year",
    "tagline",
    "overview",
    "genres",
    "keywords",
    "cast",
    "director",
)


@dataclass(slots=True)
class ItemFields:
    """An item's text fields without a model instance: building 10k instances cost more than
    the texts themselves."""

    kind: str
    title: str
    year: int | None
    tagline: str
    overview: str
    genres: list[str]
    keywords: list[str]
    cast: list[str]
    director: str


def _clean(value: str) -> str:
    return _SPACE.sub(" ", value or "").strip()


def item_text(item: CatalogItem | ItemFields) -> str:
    """Deterministic, whitespace-normalised text of an item; "" when nothing is usable."""
    title = _clean(item.title)
    if not title:
        return ""
    head = f"{title} ({item.year})" if item.year else title
    lines = [head + "."]
    if tagline := _clean(item.tagline):
        lines.append(tagline)
    if overview := _clean(item.overview):
        lines.append(overview)
    if genres := [g for g in map(_clean, item.genres) if g]:
        lines.append("Genres: " + ", ".join(genres) + ".")
    if keywords := [k for k in map(_clean, item.keywords) if k]:
        lines.append("Keywords: " + ", ".join(keywords) + ".")
    if cast := [c for c in map(_clean, item.cast) if c]:
        lines.append("Starring: " + ", ".join(cast) + ".")
    if director := _clean(item.director):
        lines.append(
            ("Created by: " if item.kind == "series" else "Directed by: ") + director + "."
        )
    return " ".join(lines)


def source_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def text_hash(item: CatalogItem | ItemFields) -> str:
    """What `CatalogItem.text_hash` holds: the hash of the item's text, "" when it has none (an
    item without text is never embedded, so nothing about it is ever stale)."""
    text = item_text(item)
    return source_hash(text) if text else ""
