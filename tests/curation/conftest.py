"""A small crime catalog under two models, with its words weighed, for pins, hides and
judgments."""

from __future__ import annotations

import pytest

from catalog.models import CatalogItem
from embeddings.models import Embedding384, Embedding768
from embeddings.neighbours import lexical_rows
from tests.similar.helpers import at_angle, embed, item_at

MODEL = "local:all-MiniLM-L6-v2"
OTHER = "other:model"
# Degrees from Heat under each model; Up has no vector of the other model and shares no word.
ANGLES = {
    "Thief": (10, 50),
    "Ronin": (20, 5),
    "Collateral": (30, 15),
    "Drive": (40, 25),
    "Up": (80, None),
}


@pytest.fixture
def films(fresh_graphs: None) -> dict[str, CatalogItem]:
    heat = item_at(
        Embedding384, MODEL, 0, title="Heat", year=1995, tmdb_id=949, genres=["Crime"],
        overview="A master thief and a detective in Los Angeles.",
    )  # fmt: skip
    embed(heat, Embedding768, OTHER, at_angle(768, 0))
    found = {"Heat": heat}
    for number, (title, (degrees, other)) in enumerate(ANGLES.items()):
        overview = (
            "An old man flies his house away with balloons."
            if title == "Up"
            else f"{title}: a thief, a heist and a detective in Los Angeles."
        )
        item = item_at(
            Embedding384, MODEL, degrees, title=title, year=1980 + number, tmdb_id=100 + number,
            overview=overview, genres=["Animation" if title == "Up" else "Crime"],
        )  # fmt: skip
        if other is not None:
            embed(item, Embedding768, OTHER, at_angle(768, other))
        found[title] = item
    lexical_rows.refresh()
    return found
