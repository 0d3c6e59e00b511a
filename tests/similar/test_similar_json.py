"""The similar page's JSON answer for scripts."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from catalog.models import CatalogItem
from embeddings.models import Embedding384
from embeddings.neighbours import lexical_rows
from embeddings.neighbours.prior import DEFAULT_PRIOR_WEIGHT, prior
from tests.similar.helpers import item_at

pytestmark = pytest.mark.django_db

MODEL = "local:all-MiniLM-L6-v2"
FIELDS = {
    "id", "tmdb_id", "kind", "title", "year", "score", "vector_score", "lexical_score", "pinned",
    "prior_score",
}  # fmt: skip


@pytest.fixture
def heat() -> CatalogItem:
    origin = item_at(
        Embedding384, MODEL, 0, title="Heat", year=1995, genres=["Crime"], tmdb_id=949,
        overview="A master thief and a detective in Los Angeles.",
    )  # fmt: skip
    for degrees, title, genre, votes, rating in (
        (10, "Thief", "Crime", 40, 7.5),
        (20, "Ronin", "Action", 900, 7.5),
        (30, "Up", "Family", 9000, 8.5),
    ):
        item_at(
            Embedding384, MODEL, degrees, title=title, year=1980 + degrees, genres=[genre],
            overview=f"{title}: a story of a thief." if genre == "Crime" else "A balloon.",
            vote_count=votes, vote_average=rating,
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
    assert set(body) == {
        "item", "model", "blend", "weight", "prior_weight", "has_vector", "vector_current",
        "neighbours",
    }  # fmt: skip
    assert (body["has_vector"], body["vector_current"]) == (True, True)
    assert body["item"] == {
        "id": heat.pk, "tmdb_id": 949, "kind": "movie", "title": "Heat", "year": 1995,
    }  # fmt: skip
    assert (body["model"], body["blend"]) == (MODEL, "hybrid")
    assert (body["weight"], body["prior_weight"]) == (1.0, DEFAULT_PRIOR_WEIGHT)
    assert body["neighbours"][0]["title"] == "Thief"
    for n in body["neighbours"]:
        assert set(n) == FIELDS
        film = CatalogItem.objects.get(pk=n["id"])
        expected = DEFAULT_PRIOR_WEIGHT * prior(film.vote_count, film.vote_average)
        assert n["prior_score"] == pytest.approx(expected)
        assert n["score"] == pytest.approx(
            n["vector_score"] + n["lexical_score"] + n["prior_score"]
        )


@pytest.mark.parametrize("blend", ["vector", "lexical", "hybrid"])
def test_the_popularity_weight_lifts_the_film_more_people_voted_on_in_every_blend(
    curator_client: Client, heat: CatalogItem, blend: str
) -> None:
    def answer(prior: str) -> dict[str, Any]:
        query = {"format": "json", "blend": blend, "prior": prior}
        body: dict[str, Any] = curator_client.get(_url(heat.pk), query).json()
        return body

    off, on = answer("0"), answer("1")
    assert off["prior_weight"] == 0 and on["prior_weight"] == 1
    assert all(n["prior_score"] is None for n in off["neighbours"])
    # Up (9,000 votes, rated 8.5, 30° away) passes Ronin (900 votes, 7.5, 20°) and Thief (40
    # votes, 10°) once the prior weighs fully.
    titles_off = [n["title"] for n in off["neighbours"]]
    titles_on = [n["title"] for n in on["neighbours"]]
    if blend == "vector":
        assert titles_off == ["Thief", "Ronin", "Up"]
        assert titles_on == ["Up", "Ronin", "Thief"]
    for n in on["neighbours"]:
        film = CatalogItem.objects.get(pk=n["id"])
        assert n["prior_score"] == pytest.approx(prior(film.vote_count, film.vote_average))
    scores = [n["score"] for n in on["neighbours"]]
    assert scores == sorted(scores, reverse=True)


def test_the_l2_metric_shows_distances_without_a_prior(
    curator_client: Client, heat: CatalogItem
) -> None:
    body = curator_client.get(
        _url(heat.pk), {"format": "json", "blend": "vector", "metric": "l2", "prior": "1"}
    ).json()
    assert body["prior_weight"] == 0
    assert [n["title"] for n in body["neighbours"]] == ["Thief", "Ronin", "Up"]
    assert all(n["prior_score"] is None for n in body["neighbours"])


def test_an_accept_header_asking_for_json_gets_the_same_answer(
    curator_client: Client, heat: CatalogItem
) -> None:
    by_header = curator_client.get(_url(heat.pk), HTTP_ACCEPT="application/json")
    assert by_header.json() == curator_client.get(_url(heat.pk), {"format": "json"}).json()


def test_every_parameter_of_the_page_works_in_json(
    curator_client: Client, heat: CatalogItem
) -> None:
    def titles(**params: str) -> list[str]:
        # No prior: the films' votes would reorder what the filters leave.
        body = curator_client.get(_url(heat.pk), {"format": "json", "prior": "0", **params}).json()
        return [n["title"] for n in body["neighbours"]]

    assert titles(blend="vector") == ["Thief", "Ronin", "Up"]
    assert titles(blend="vector", k="2") == ["Thief", "Ronin"]
    assert titles(blend="vector", genre="Family") == ["Up"]
    assert titles(blend="vector", year_min="1995", year_max="2005") == ["Ronin"]
    assert titles(blend="lexical")[0] == "Thief"  # "thief", "crime"
    body = curator_client.get(
        _url(heat.pk), {"format": "json", "blend": "hybrid", "weight": "0", "prior": "0"}
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
        ({"prior": "-0.1"}, "prior"),
        ({"prior": "2"}, "prior"),
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
