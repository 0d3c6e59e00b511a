"""Pins and hides applied to an item's neighbours: under every model and blend, through a
re-import of the catalog, and within the page's filters."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import IntegrityError, transaction

from catalog.models import CatalogItem
from embeddings.models import Curation, Embedding384
from embeddings.models.curation import clear, hide, pin
from embeddings.neighbours import lexical_rows
from embeddings.neighbours.blends import BLENDS, LEXICAL, Ranked
from embeddings.neighbours.curation import (
    Curated,
    apply_curation,
    curated_neighbours,
    curation_of,
)
from embeddings.neighbours.filters import Filters
from embeddings.neighbours.stored import resolve_stored
from tests.conftest import make_item
from tests.curation.conftest import MODEL, OTHER
from tests.similar.helpers import item_at

pytestmark = pytest.mark.django_db


def _titles(found: list[Ranked]) -> list[str]:
    return [r.item.title for r in found]


def test_a_pinned_film_shows_at_its_rank_and_a_hidden_one_never_under_every_model_and_blend(
    films: dict[str, CatalogItem], curator_user: User
) -> None:
    heat = films["Heat"]
    pin(heat, films["Up"], 2, curator_user)
    hide(heat, films["Ronin"], curator_user)

    for model_key in (MODEL, OTHER):
        for blend in BLENDS:
            found = curated_neighbours(heat, resolve_stored(model_key), blend=blend, k=3)
            assert len(found) == 3, (model_key, blend)
            assert found[1].item.title == "Up", (model_key, blend, _titles(found))
            assert [r.pinned for r in found] == [False, True, False]
            assert "Ronin" not in _titles(found), (model_key, blend)


def test_a_pin_the_blend_never_ranked_shows_without_a_score_and_one_it_ranked_keeps_its_own(
    films: dict[str, CatalogItem], curator_user: User
) -> None:
    heat = films["Heat"]
    pin(heat, films["Up"], 1, curator_user)  # no vector of the other model
    pin(heat, films["Drive"], 2, curator_user)

    found = curated_neighbours(heat, resolve_stored(OTHER), blend="vector", k=4)

    assert _titles(found)[:2] == ["Up", "Drive"]
    assert found[0].score is None and found[0].vector_score is None
    assert found[1].score is not None and found[1].score > 0


def test_pins_and_hides_follow_the_titles_through_a_new_import_of_the_catalog(
    films: dict[str, CatalogItem], curator_user: User, tmp_path: Path
) -> None:
    """Keyed by kind and TMDb id: the catalog emptied and imported again gives every title a
    new id, and the curation still applies."""
    heat = films["Heat"]
    pin(heat, films["Up"], 1, curator_user)
    hide(heat, films["Thief"], curator_user)
    lines = [
        json.dumps({"tmdb_id": item.tmdb_id, "title": item.title, "overview": item.overview})
        for item in films.values()
    ]
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text("\n".join(lines) + "\n")
    old_ids = {item.pk for item in films.values()}
    CatalogItem.objects.all().delete()

    call_command("import_catalog", str(catalog), "--no-progress", stdout=StringIO())
    lexical_rows.refresh()

    new_heat = CatalogItem.objects.get(tmdb_id=heat.tmdb_id)
    assert new_heat.pk not in old_ids
    found = curated_neighbours(new_heat, None, blend=LEXICAL, k=3)
    assert _titles(found)[0] == "Up" and "Thief" not in _titles(found)
    assert Curation.objects.count() == 2


def test_a_pin_outside_the_pages_filters_is_left_out(
    films: dict[str, CatalogItem], curator_user: User
) -> None:
    heat = films["Heat"]
    pin(heat, films["Up"], 1, curator_user)  # Up is from 1984

    found = curated_neighbours(
        heat, resolve_stored(MODEL), blend="vector", k=3, filters=Filters(year_max=1983)
    )

    assert _titles(found) == ["Thief", "Ronin", "Collateral"]


def test_pins_at_one_rank_stack_in_order_and_a_pin_past_the_end_goes_last() -> None:
    a, b, c, d = (make_item(title=t) for t in "ABCD")
    found = [Ranked(a, 0.9), Ranked(b, 0.8)]

    curated = apply_curation(found, Curated({c.pk: 1, d.pk: 9}, frozenset({a.pk})), k=5)

    assert _titles(curated) == ["C", "B", "D"]
    assert [r.pinned for r in curated] == [True, False, True]


def test_a_second_pin_moves_the_first_and_a_hide_replaces_a_pin_of_the_same_pair(
    films: dict[str, CatalogItem], curator_user: User
) -> None:
    heat, up = films["Heat"], films["Up"]
    pin(heat, up, 1, curator_user)
    pin(heat, up, 3, curator_user)
    assert curation_of(heat) == Curated({up.pk: 3}, frozenset())

    hide(heat, up, curator_user)
    assert curation_of(heat) == Curated({}, frozenset({up.pk}))
    assert Curation.objects.count() == 1
    [row] = Curation.objects.all()
    assert (row.set_by, row.describe()) == (curator_user, "hidden")


def test_clearing_a_pair_removes_its_pin_and_every_change_is_in_the_admin_log(
    films: dict[str, CatalogItem], curator_user: User
) -> None:
    heat, up = films["Heat"], films["Up"]
    pin(heat, up, 2, curator_user)
    hide(heat, up, curator_user)

    assert clear(heat, up, curator_user) == ["hidden"]
    assert clear(heat, up, curator_user) == []  # nothing left: nothing logged

    assert curation_of(heat) == Curated()
    log = LogEntry.objects.order_by("id")
    assert [e.change_message for e in log] == ["Pinned at rank 2", "Hidden", "Cleared: hidden"]
    assert {e.object_repr for e in log} == {"Heat (1995) → Up (1984)"}
    assert {e.user for e in log} == {curator_user}


def test_every_catalog_title_has_the_tmdb_id_that_curation_keys_on() -> None:
    """A title without a TMDb id cannot be stored, so no item is beyond curation."""
    with pytest.raises(IntegrityError), transaction.atomic():
        make_item(title="Nameless", tmdb_id=None)


def test_a_full_page_of_neighbours_stays_full_with_hides_and_pins_taken_out(
    fresh_graphs: None, curator_user: User
) -> None:
    query = item_at(Embedding384, MODEL, 0, title="Query", tmdb_id=1)
    others = [
        item_at(Embedding384, MODEL, 0.5 + n * 0.4, title=f"Film {n:03d}", tmdb_id=10 + n)
        for n in range(110)
    ]
    for other in others[:3]:
        hide(query, other, curator_user)
    pin(query, others[50], 1, curator_user)

    found = curated_neighbours(query, resolve_stored(MODEL), blend="vector", k=100)

    assert len(found) == 100
    assert found[0].item == others[50] and found[0].pinned
    assert not {o.pk for o in others[:3]} & {r.item.pk for r in found}
    assert found[-1].item == others[102]  # the 3 hidden and the pin moved up make room
