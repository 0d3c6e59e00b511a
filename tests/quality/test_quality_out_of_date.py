"""Quality numbers say when and on how many items they were measured, and read "out of date"
once more than a tenth of those items were added, removed, or changed their text or
collection since."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import CatalogItem
from embeddings import quality
from tests.conftest import make_item
from tests.quality.conftest import OLD, place

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_graphs")]
PAGES = (reverse("embeddings:embedding_model"), reverse("embeddings:storage"))


@pytest.fixture
def measured(franchise_films: dict[str, CatalogItem]) -> list[CatalogItem]:
    """The 16 films, each with a vector of OLD, measured."""
    place(franchise_films, OLD, good=True)
    quality.measure(OLD)
    return list(franchise_films.values())


def _headline(client: Client, url: str) -> str:
    page = client.get(url).content.decode()
    found = re.search(
        rf'data-quality="{re.escape(OLD)}".*?<summary class="quality-headline">(.*?)</summary>',
        page,
        re.S,
    )
    assert found, f"no quality headline for {OLD} on {url}"
    return found.group(1)


def test_the_headline_shows_the_date_and_the_catalog_size_it_was_measured_on(
    measured: list[CatalogItem], curator_client: Client
) -> None:
    run = quality.latest_runs([OLD])[OLD]

    for url in PAGES:
        headline = _headline(curator_client, url)
        assert f"{run.finished_at:%Y-%m-%d}, on 16 items" in headline
        assert "out of date" not in headline


def test_a_tenth_changed_is_still_current_and_more_is_out_of_date(
    measured: list[CatalogItem], curator_client: Client
) -> None:
    # Votes and popularity are not what the numbers were measured on.
    CatalogItem.objects.update(vote_count=999, popularity=50.0)
    measured[0].overview = "A new synopsis."
    measured[0].save()
    assert "out of date" not in _headline(curator_client, PAGES[0])

    make_item(title="A new film")  # 2 of 16 changed: more than a tenth

    for url in PAGES:
        assert "out of date" in _headline(curator_client, url)


def test_removed_items_count_as_changes(
    measured: list[CatalogItem], curator_client: Client
) -> None:
    CatalogItem.objects.filter(pk__in=[measured[-1].pk, measured[-2].pk]).delete()

    assert "out of date" in _headline(curator_client, PAGES[1])


def test_a_change_of_collection_counts_and_measuring_again_makes_it_current(
    measured: list[CatalogItem], curator_client: Client
) -> None:
    CatalogItem.objects.filter(pk__in=[m.pk for m in measured[:2]]).update(collection="Gamma")
    assert "out of date" in _headline(curator_client, PAGES[0])

    quality.measure(OLD)

    assert "out of date" not in _headline(curator_client, PAGES[0])
