"""The similar page's JSON answer for scripts."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import CatalogItem
from embeddings.models import Embedding384
from embeddings.neighbours import lexical_rows
from tests.similar.helpers import item_at

pytestmark = pytest.mark.django_db

MODEL = "local:all-MiniLM-L6-v2"
FIELDS = {
    "id", "tmdb_id", "kind", "title", "year", "score", "vector_score", "lexical_score", "pinned",
}  # fmt: skip


@pytest.fixture
def heat() -> CatalogItem:
    origin = item_at(
        Embedding384, MODEL, 0, title="Heat", year=1995, genres=["Crime"], tmdb_id=949,
        overview="A master thief and a detective in Los Angeles.",
    )  # fmt: skip
    for degrees, title, genre in (
        (10, "Thief", "Crime"),
        (20, "Ronin", "Action"),
        (30, "Up", "Family"),
    ):
        item_at(
            Embedding384, MODEL, degrees, title=title, year=1980 + degrees, genres=[genre],
            overview=f"{title}: a story of a thief." if genre == "Crime" else "A balloon.",
        )  # fmt: skip
    lexical_rows.refresh()
    return origin


def _url(item_id: int) -> str:
    return reverse("embeddings:similar", args=[item_id])


def test_format_json_answers_with_the_item_the_model_the_blend_and_each_neighbours_parts(
    curator_client: Client, heat: CatalogItem
) -> None:
    response = curator_client.get(_url(heat.pk), {"format": "json"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"item", "model", "blend", "neighbours"}
    assert body["item"] == {
        "id": heat.pk, "tmdb_id": 949, "kind": "movie", "title": "Heat", "year": 1995,
    }  # fmt: skip
    assert (body["model"], body["blend"]) == (MODEL, "hybrid")
    assert body["neighbours"][0]["title"] == "Thief"
    for n in body["neighbours"]:
        assert set(n) == FIELDS
        assert n["score"] == pytest.approx(n["vector_score"] + n["lexical_score"])


def test_an_accept_header_asking_for_json_gets_the_same_answer(
    curator_client: Client, heat: CatalogItem
) -> None:
    by_header = curator_client.get(_url(heat.pk), HTTP_ACCEPT="application/json")
    assert by_header.json() == curator_client.get(_url(heat.pk), {"format": "json"}).json()


def test_every_parameter_of_the_page_works_in_json(
    curator_client: Client, heat: CatalogItem
) -> None:
    def titles(**params: str) -> list[str]:
        body = curator_client.get(_url(heat.pk), {"format": "json", **params}).json()
        return [n["title"] for n in body["neighbours"]]

    assert titles(blend="vector") == ["Thief", "Ronin", "Up"]
    assert titles(blend="vector", k="2") == ["Thief", "Ronin"]
    assert titles(blend="vector", genre="Family") == ["Up"]
    assert titles(blend="vector", year_min="1995", year_max="2005") == ["Ronin"]
    assert titles(blend="lexical")[0] == "Thief"  # "thief", "crime"
    body = curator_client.get(
        _url(heat.pk), {"format": "json", "blend": "hybrid", "weight": "0"}
    ).json()
    assert [n["score"] for n in body["neighbours"]] == pytest.approx(
        [n["vector_score"] for n in body["neighbours"]]
    )
    lexical_only = curator_client.get(_url(heat.pk), {"format": "json", "blend": "lexical"}).json()
    assert all(n["vector_score"] is None for n in lexical_only["neighbours"])


@pytest.mark.parametrize(
    ("role", "status"), [("anonymous", 401), ("outsider", 403), ("curator", 200)]
)
def test_json_has_the_permissions_of_the_page(
    role_clients: dict[str, Client], heat: CatalogItem, role: str, status: int
) -> None:
    response = role_clients[role].get(_url(heat.pk), {"format": "json"})
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    if status != 200:
        assert "error" in response.json()
        assert "neighbours" not in response.json()


def test_an_unknown_item_is_a_json_404(curator_client: Client) -> None:
    response = curator_client.get(_url(999_999), {"format": "json"})
    assert response.status_code == 404
    assert response.json() == {"error": "No catalog item has the id 999999."}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"k": "0"}, "k"),
        ({"k": "many"}, "k"),
        ({"blend": "magic"}, "blend"),
        ({"weight": "-1"}, "weight"),
        ({"metric": "manhattan"}, "metric"),
        ({"year_min": "2000", "year_max": "1990"}, "year_max"),
    ],
)
def test_a_bad_parameter_is_a_400_that_names_it(
    curator_client: Client, heat: CatalogItem, params: dict[str, str], field: str
) -> None:
    response = curator_client.get(_url(heat.pk), {"format": "json", **params})
    assert response.status_code == 400
    body = response.json()
    assert field in body["fields"]
    assert body["error"].startswith("Bad parameters: ") and field in body["error"]
