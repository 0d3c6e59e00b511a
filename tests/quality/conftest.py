"""A hand-made franchise catalog whose right answers are known.

Two collections and eleven strangers, placed on a circle by angle. In the *good* layout every
film sits beside its siblings, so recall@10 is 1. In the *poor* layout Alpha's three films sit
together but Beta's two are 90° apart with the strangers between them: Alpha's three queries
find both siblings, Beta's two find none, so recall@10 = hit@10 = 3/5 = 0.6.
"""

from __future__ import annotations

from typing import Any

import pytest

from catalog.models import CatalogItem
from embeddings.models import Embedding384, EmbeddingSettings
from tests.conftest import make_item
from tests.similar.helpers import at_angle, embed

OLD = "local:all-MiniLM-L6-v2"
NEW = "none:disabled"  # another 384-dimension model: its rows share the table with the old set

GOOD = {"alpha-1": 0, "alpha-2": 2, "alpha-3": 4, "beta-1": 60, "beta-2": 62}
POOR = {"alpha-1": 0, "alpha-2": 2, "alpha-3": 4, "beta-1": 90, "beta-2": 180}
STRANGERS_GOOD = [120 + 3 * i for i in range(11)]
STRANGERS_POOR = [91 + i for i in range(11)]


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def franchise_films(db: None) -> dict[str, CatalogItem]:
    films = {
        name: make_item(
            title=f"{name.split('-')[0].title()} {name[-1]}",
            collection=f"{name.split('-')[0].title()} Collection",
        )
        for name in GOOD
    }
    films |= {f"stranger-{i}": make_item(title=f"Stranger {i}") for i in range(11)}
    return films


def place(films: dict[str, CatalogItem], model_key: str, *, good: bool) -> None:
    """Give every film a vector of this model, in the good or the poor layout."""
    layout = GOOD if good else POOR
    strangers = STRANGERS_GOOD if good else STRANGERS_POOR
    for name, degrees in layout.items():
        embed(films[name], Embedding384, model_key, at_angle(384, degrees))
    for i, degrees in enumerate(strangers):
        embed(films[f"stranger-{i}"], Embedding384, model_key, at_angle(384, degrees))


def building(active: str, building: str) -> None:
    config = EmbeddingSettings.load()
    config.active_model_key, config.building_model_key = active, building
    config.save()
