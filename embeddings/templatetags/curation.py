"""The similar page's curation controls: what curators said about a neighbour in a row."""

from __future__ import annotations

from collections.abc import Mapping

from django import template

from embeddings.neighbours.curation import Note

register = template.Library()


@register.filter
def note_of(notes: Mapping[int, Note] | None, item_id: int) -> Note | None:
    """The note about this neighbour (by catalog id), if curators said anything."""
    return notes.get(item_id) if notes else None
