from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.conftest import make_item

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/catalog/catalogitem/"


def _titles(client: Client, query: str = "") -> list[str]:
    response = client.get(CHANGELIST + query)
    assert response.status_code == 200
    # The title is the first column, rendered as the link to the item's change page.
    return re.findall(
        r'<th class="field-title"><a href="[^"]+">([^<]+)</a>', response.content.decode()
    )


@pytest.mark.parametrize("role", ["admin", "staff", "curator"])
def test_every_role_sees_the_catalog_list(role: str, role_clients: dict[str, Client]) -> None:
    make_item(title="Heat", year=1995)
    response = role_clients[role].get(CHANGELIST)
    assert response.status_code == 200
    assert "Heat" in response.content.decode()


def test_a_staff_member_without_a_role_is_refused_the_catalog_list(
    role_clients: dict[str, Client],
) -> None:
    make_item(title="Heat")
    response = role_clients["outsider"].get(CHANGELIST)
    assert response.status_code == 403
    assert "Heat" not in response.content.decode()


def test_an_anonymous_visitor_is_sent_to_the_login(role_clients: dict[str, Client]) -> None:
    response = role_clients["anonymous"].get(CHANGELIST)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/admin/catalog/catalogitem/")


def test_searching_finds_items_by_title_and_original_title(curator_client: Client) -> None:
    make_item(title="Heat", year=1995)
    make_item(title="Alien", year=1979)
    make_item(title="Spirited Away", original_title="Sen to Chihiro no Kamikakushi", year=2001)
    assert _titles(curator_client, "?q=heat") == ["Heat"]
    assert _titles(curator_client, "?q=chihiro") == ["Spirited Away"]


def test_the_kind_filter_separates_films_from_series(curator_client: Client) -> None:
    make_item(title="Heat", kind="movie")
    make_item(title="The Wire", kind="series")
    assert _titles(curator_client, "?kind__exact=series") == ["The Wire"]
    assert _titles(curator_client, "?kind__exact=movie") == ["Heat"]


def test_the_genre_filter_keeps_items_having_that_genre_among_others(
    curator_client: Client,
) -> None:
    make_item(title="Alien", genres=["Horror", "Science Fiction"])
    make_item(title="Heat", genres=["Action", "Crime"])
    make_item(title="Solaris", genres=["Science Fiction", "Drama"])
    assert _titles(curator_client, "?genre=Science+Fiction") == ["Alien", "Solaris"]
    assert _titles(curator_client, "?genre=Crime") == ["Heat"]


def test_the_decade_filter_keeps_the_years_of_that_decade(curator_client: Client) -> None:
    make_item(title="Alien", year=1979)
    make_item(title="Heat", year=1995)
    make_item(title="Se7en", year=1990)
    make_item(title="The Matrix", year=1999)
    make_item(title="Memento", year=2000)
    assert _titles(curator_client, "?decade=1990") == ["Heat", "Se7en", "The Matrix"]
    assert "1970s" in curator_client.get(CHANGELIST).content.decode()


def test_each_row_links_to_the_items_similar_page(curator_client: Client) -> None:
    heat = make_item(title="Heat")
    alien = make_item(title="Alien")
    html = curator_client.get(CHANGELIST).content.decode()
    assert f'<a href="/admin/similar/{heat.pk}/">Similar</a>' in html
    assert f'<a href="/admin/similar/{alien.pk}/">Similar</a>' in html
