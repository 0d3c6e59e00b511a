from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from catalog.models import CatalogItem
from embeddings.models import Embedding384, Embedding768, EmbeddingSettings
from tests.conftest import make_item
from tests.similar.helpers import at_angle, embed, item_at

pytestmark = pytest.mark.django_db

MODEL = "local:all-MiniLM-L6-v2"


def _url(item_id: int, **params: str | int) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("embeddings:similar", args=[item_id]) + (f"?{query}" if query else "")


def _titles(html: str, model_key: str) -> list[str]:
    """Neighbour titles, in order, in the column of one model."""
    column = html.split(f'data-model="{model_key}"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'class="neighbour-link" href="[^"]*">([^<]+)</a>', column)


@pytest.fixture
def heat() -> CatalogItem:
    origin = item_at(Embedding384, MODEL, 0, title="Heat", year=1995, genres=["Crime"])
    for degrees, title in ((30, "Ronin"), (10, "Thief"), (60, "Collateral"), (20, "The Town")):
        item_at(
            Embedding384, MODEL, degrees, title=title, year=1990 + degrees // 10, genres=["Crime"]
        )
    return origin


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("staff", 200), ("curator", 200), ("outsider", 403), ("anonymous", 302)],
)
def test_curators_and_up_see_the_similar_page_and_others_are_turned_away(
    role_clients: dict[str, Client], heat: CatalogItem, role: str, status: int
) -> None:
    response = role_clients[role].get(_url(heat.pk))
    assert response.status_code == status
    if role == "anonymous":
        assert response["Location"].startswith("/admin/login/?next=/admin/similar/")


def test_the_page_shows_the_item_its_embedded_text_and_neighbours_ordered_by_score(
    curator_client: Client, heat: CatalogItem
) -> None:
    response = curator_client.get(_url(heat.pk, blend="vector"))
    html = response.content.decode()
    assert "<h1>Heat (1995)" in html
    assert "Heat (1995). A film. Genres: Crime." in html  # item_text, exactly
    assert f"Its {MODEL} vector (384 dimensions) was made from this text on" in html
    assert _titles(html, MODEL) == ["Thief", "The Town", "Ronin", "Collateral"]
    scores = [float(s) for s in re.findall(r'class="reclio-num score">([-0-9.]+)<', html)]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == pytest.approx(0.9848, abs=1e-4)  # cos 10°
    assert "/admin/catalog/catalogitem/" in html


@pytest.mark.usefixtures("exact_neighbours")
def test_k_and_the_year_and_genre_filters_narrow_the_neighbours(
    curator_client: Client, heat: CatalogItem
) -> None:
    assert _titles(
        curator_client.get(_url(heat.pk, k=2, blend="vector")).content.decode(), MODEL
    ) == [
        "Thief",
        "The Town",
    ]
    html = curator_client.get(
        _url(heat.pk, year_min=1993, year_max=1996, blend="vector")
    ).content.decode()
    assert _titles(html, MODEL) == ["Ronin", "Collateral"]
    item_at(Embedding384, MODEL, 5, title="Paddington", genres=["Family"])
    vector = _url(heat.pk, blend="vector")
    assert _titles(curator_client.get(vector).content.decode(), MODEL)[0] == "Paddington"
    assert "Paddington" not in _titles(
        curator_client.get(_url(heat.pk, genre="Crime")).content.decode(), MODEL
    )


def test_same_kind_is_the_default_and_any_kind_lets_series_in(
    curator_client: Client, heat: CatalogItem
) -> None:
    item_at(Embedding384, MODEL, 1, title="Crime Story", kind="series")
    assert "Crime Story" not in _titles(curator_client.get(_url(heat.pk)).content.decode(), MODEL)
    html = curator_client.get(_url(heat.pk, scope="any", blend="vector")).content.decode()
    assert _titles(html, MODEL)[0] == "Crime Story"


def test_compare_mode_shows_both_models_side_by_side_with_the_overlap_of_their_top_k(
    curator_client: Client, heat: CatalogItem
) -> None:
    # The second model's top 3 is Thief, Collateral, Ronin: two of the first model's three.
    embed(heat, Embedding768, "other:model", at_angle(768, 0))
    for title, degrees in (("Thief", 5), ("Collateral", 10), ("Ronin", 15), ("The Town", 70)):
        embed(
            CatalogItem.objects.get(title=title),
            Embedding768,
            "other:model",
            at_angle(768, degrees),
        )
    html = curator_client.get(
        _url(heat.pk, k=3, compare="other:model", blend="vector")
    ).content.decode()
    assert _titles(html, MODEL) == ["Thief", "The Town", "Ronin"]
    assert _titles(html, "other:model") == ["Thief", "Collateral", "Ronin"]
    assert "Overlap of the two top-3 lists: <strong>2</strong> items (67 %)" in html
    assert html.count('class="shared"') == 4  # Thief and Ronin, in each column


def test_an_unknown_item_gets_a_friendly_404(curator_client: Client) -> None:
    response = curator_client.get(_url(999_999))
    assert response.status_code == 404
    assert "No catalog item has the id 999999." in response.content.decode()
    assert "catalog list" in response.content.decode()


def test_the_tmdb_address_leads_to_the_item_of_that_kind(curator_client: Client) -> None:
    movie = make_item(title="Fargo", tmdb_id=275, kind="movie")
    series = make_item(title="Fargo", tmdb_id=275, kind="series")
    url = reverse("embeddings:similar_tmdb", args=[275])
    assert curator_client.get(url)["Location"] == _url(movie.pk)
    assert curator_client.get(f"{url}?kind=series&k=5")["Location"] == _url(series.pk, k=5)
    missing = curator_client.get(reverse("embeddings:similar_tmdb", args=[1]))
    assert missing.status_code == 404
    assert "No catalog item has the TMDB id 1." in missing.content.decode()


def test_an_item_without_a_vector_says_so_and_offers_embed_now_to_staff_only(
    role_clients: dict[str, Client],
) -> None:
    item = make_item(title="Unseen")
    for role, button in (("staff", True), ("admin", True), ("curator", False)):
        html = role_clients[role].get(_url(item.pk)).content.decode()
        assert f"This item has no vector for {MODEL} yet." in html
        assert ('value="Embed now"' in html) is button, role


def test_embed_now_is_a_post_for_staff(role_clients: dict[str, Client]) -> None:
    item = make_item(title="Unseen")
    url = reverse("embeddings:similar_embed", args=[item.pk])
    assert role_clients["staff"].get(url).status_code == 405
    assert role_clients["curator"].post(url, {"model": MODEL}).status_code == 403
    assert role_clients["anonymous"].post(url, {"model": MODEL}).status_code == 302
    assert Embedding384.objects.count() == 0


def test_the_title_search_lists_matching_items_and_answers_htmx_with_the_partial_only(
    curator_client: Client, heat: CatalogItem
) -> None:
    html = curator_client.get(_url(heat.pk, find="thi")).content.decode()
    found = re.search(r'<ul id="title-results">(.*?)</ul>', html, re.S)
    assert found is not None
    thief = found.group(1)
    assert "Thief (1991)" in thief and "Heat" not in thief
    partial = curator_client.get(
        _url(heat.pk, find="ron"), headers={"HX-Request": "true"}
    ).content.decode()
    assert partial.strip().startswith('<ul id="title-results">')
    assert "Ronin (1993)" in partial and "<h1>" not in partial
    nothing = curator_client.get(
        _url(heat.pk, find="zzz"), headers={"HX-Request": "true"}
    ).content.decode()
    assert "No title matches." in nothing


def test_a_model_that_cannot_embed_the_free_text_is_named_instead_of_a_traceback(
    curator_client: Client, heat: CatalogItem
) -> None:
    response = curator_client.get(_url(heat.pk, model="none:disabled", q="a heist"))
    assert response.status_code == 200
    assert (
        "none:disabled could not embed the text: embeddings are turned off"
        in response.content.decode()
    )


def test_the_page_says_embeddings_are_turned_off_when_the_active_model_embeds_nothing(
    curator_client: Client, heat: CatalogItem
) -> None:
    config = EmbeddingSettings.load()
    config.active_model_key = "none:disabled"
    config.save()
    html = curator_client.get(_url(heat.pk, model=MODEL)).content.decode()
    assert "Embeddings are turned off" in html
    assert _titles(html, MODEL)[0] == "Thief"


def test_every_row_of_the_catalog_list_links_to_its_similar_page(superuser: User) -> None:
    items = [make_item(title=title) for title in ("Heat", "Ronin")]
    client = Client()
    client.force_login(superuser)
    html = client.get(reverse("admin:catalog_catalogitem_changelist")).content.decode()
    for item in items:
        assert f'<a href="{_url(item.pk)}">Similar</a>' in html
