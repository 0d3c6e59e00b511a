"""POST /admin/similar/<id>/curate/: curators judge, pin, hide and clear; the page, compare mode
and the JSON serve the result."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse

from catalog.models import CatalogItem
from embeddings.models import Curation, EmbeddingSettings, Judgment
from tests.conftest import make_item
from tests.curation.conftest import MODEL, OTHER

pytestmark = pytest.mark.django_db


def _curate(client: Client, item: CatalogItem, query: str = "", **data: Any) -> Any:
    url = reverse("embeddings:similar_curate", args=[item.pk])
    return client.post(f"{url}?{query}" if query else url, data, HTTP_HX_REQUEST="true")


def _json(client: Client, item: CatalogItem, **params: Any) -> list[dict[str, Any]]:
    url = reverse("embeddings:similar", args=[item.pk])
    response = client.get(url, {"format": "json", **params})
    assert response.status_code == 200, response.content
    rows: list[dict[str, Any]] = response.json()["neighbours"]
    return rows


def test_a_pin_shows_at_its_rank_in_the_json_under_every_model_and_blend(
    curator_client: Client, films: dict[str, CatalogItem]
) -> None:
    heat, up = films["Heat"], films["Up"]

    response = _curate(curator_client, heat, neighbour=up.pk, action="pin", rank=2)

    assert response.status_code == 200
    for model in (MODEL, OTHER):
        for blend in ("vector", "lexical", "hybrid"):
            rows = _json(curator_client, heat, model=model, blend=blend, k=3)
            assert [r["title"] for r in rows][1] == "Up", (model, blend)
            assert [r["pinned"] for r in rows] == [False, True, False]
    # Never ranked by the other model's vectors (Up has none): no score to show.
    [_, pinned, _] = _json(curator_client, heat, model=OTHER, blend="vector", k=3)
    assert (pinned["score"], pinned["vector_score"]) == (None, None)


def test_a_hidden_neighbour_never_shows_on_the_page_in_compare_mode_or_in_the_json(
    curator_client: Client, films: dict[str, CatalogItem]
) -> None:
    heat, ronin = films["Heat"], films["Ronin"]
    _curate(curator_client, heat, neighbour=ronin.pk, action="hide")

    for model in (MODEL, OTHER):
        assert "Ronin" not in [r["title"] for r in _json(curator_client, heat, model=model)]
    page = curator_client.get(
        reverse("embeddings:similar", args=[heat.pk]), {"model": MODEL, "compare": OTHER}
    )
    body = page.content.decode()
    assert body.count('class="neighbour-link"') == 2 * 4  # five films, one hidden, two columns
    assert f'data-item="{ronin.pk}"' not in body
    # The curation panel says who hid it, with a control to clear it.
    assert "Hidden" in body and "by cleo" in body


def test_pins_and_hides_hold_after_the_active_model_changes(
    curator_client: Client, films: dict[str, CatalogItem]
) -> None:
    heat = films["Heat"]
    _curate(curator_client, heat, neighbour=films["Up"].pk, action="pin", rank=1)
    _curate(curator_client, heat, neighbour=films["Thief"].pk, action="hide")

    for active in (MODEL, OTHER):
        config = EmbeddingSettings.load()
        config.active_model_key = active
        config.save()
        rows = _json(curator_client, heat, blend="vector")
        assert rows[0]["title"] == "Up" and "Thief" not in [r["title"] for r in rows]


def test_the_free_text_search_is_the_models_own_ranking(
    curator_client: Client, films: dict[str, CatalogItem]
) -> None:
    heat = films["Heat"]
    _curate(curator_client, heat, neighbour=films["Up"].pk, action="pin", rank=1)

    rows = _json(curator_client, heat, blend="lexical", q="thief detective heist")

    assert rows and rows[0]["title"] != "Up"
    assert not any(r["pinned"] for r in rows)


def test_one_click_stores_one_judgment_a_second_click_updates_it_and_undo_removes_it(
    curator_client: Client, films: dict[str, CatalogItem]
) -> None:
    heat, drive = films["Heat"], films["Drive"]

    first = _curate(curator_client, heat, f"model={MODEL}", neighbour=drive.pk, action="bad")
    _curate(curator_client, heat, f"model={MODEL}", neighbour=drive.pk, action="bad")

    assert first.status_code == 200
    body = first.content.decode()
    assert body.lstrip().startswith('<div id="neighbour-lists"')  # the lists alone, for htmx
    assert "Drive (1983) judged bad for Heat (1995)." in body
    assert list(Judgment.objects.values_list("neighbour_tmdb_id", "grade")) == [(drive.tmdb_id, 0)]

    _curate(curator_client, heat, neighbour=drive.pk, action="good")
    assert list(Judgment.objects.values_list("grade", flat=True)) == [2]

    undone = _curate(curator_client, heat, neighbour=drive.pk, action="clear")
    assert (
        undone.status_code == 200
        and "Cleared for Drive (1983): judged good." in undone.content.decode()
    )
    assert not Judgment.objects.exists()
    assert [e.change_message for e in LogEntry.objects.order_by("id")] == [
        "Judged bad", "Judged bad", "Judged good", "Cleared: judged good",
    ]  # fmt: skip


def test_a_plain_form_post_goes_back_to_the_page_with_its_options_and_a_message(
    curator_client: Client, films: dict[str, CatalogItem]
) -> None:
    heat = films["Heat"]
    url = reverse("embeddings:similar_curate", args=[heat.pk])

    response = curator_client.post(
        f"{url}?model={OTHER}&blend=vector",
        {"neighbour": films["Up"].pk, "action": "pin", "rank": 1},
    )

    assert response.status_code == 302
    options = urlencode({"model": OTHER, "blend": "vector"})
    assert response["Location"] == f"/admin/similar/{heat.pk}/?{options}"
    page = curator_client.get(response["Location"]).content.decode()
    assert "Up (1984) pinned at rank 1 for Heat (1995)." in page


def test_curators_staff_and_admins_may_curate_others_may_not(
    role_clients: dict[str, Client], films: dict[str, CatalogItem]
) -> None:
    heat, up = films["Heat"], films["Up"]
    statuses = {
        role: _curate(client, heat, neighbour=up.pk, action="good").status_code
        for role, client in role_clients.items()
    }

    assert statuses == {
        "admin": 200,
        "staff": 200,
        "curator": 200,
        "outsider": 403,
        "anonymous": 302,
    }
    anonymous = _curate(role_clients["anonymous"], heat, neighbour=up.pk, action="good")
    assert anonymous["Location"].startswith("/admin/login/")
    assert Judgment.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"action": "love"},
            "Unknown action 'love': use one of good, acceptable, bad, pin, hide, clear.",
        ),
        ({"action": "pin"}, "A pin needs a rank from 1 to 100."),
        ({"action": "pin", "rank": "0"}, "greater than or equal to 1"),
        ({"action": "pin", "rank": "first"}, "The rank must be a whole number."),
        ({"action": "good", "neighbour": "999999"}, "No catalog item has the id 999999."),
        ({"action": "good", "neighbour": "x"}, "The neighbour must be a catalog id"),
        ({"action": "good", "neighbour": "self"}, "cannot be its own neighbour"),
        ({"action": "good", "neighbour": "series"}, "curation pairs titles of one kind"),
    ],
)
def test_a_bad_request_is_a_400_that_says_what_is_wrong_and_stores_nothing(
    curator_client: Client, films: dict[str, CatalogItem], data: dict[str, str], message: str
) -> None:
    heat = films["Heat"]
    neighbour = {
        "self": heat.pk,
        "series": make_item(kind="series", title="Heat: the series", tmdb_id=949).pk,
    }.get(data.get("neighbour", ""), data.get("neighbour", films["Up"].pk))

    response = _curate(curator_client, heat, "", **(data | {"neighbour": neighbour}))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Judgment.objects.exists() and not Curation.objects.exists()
    assert not LogEntry.objects.exists()


def test_an_unknown_item_is_the_not_found_page(curator_client: Client) -> None:
    response = _curate(curator_client, CatalogItem(pk=424242), neighbour=1, action="good")

    assert response.status_code == 404
    assert "No catalog item has the id 424242." in response.content.decode()


def test_a_post_without_the_csrf_token_is_refused(
    curator_client: Client, films: dict[str, CatalogItem]
) -> None:
    guarded = Client(enforce_csrf_checks=True)
    guarded.cookies = curator_client.cookies

    response = _curate(guarded, films["Heat"], neighbour=films["Up"].pk, action="pin", rank=1)

    assert response.status_code == 403
    assert not Curation.objects.exists()


def test_a_film_found_by_title_is_added_as_one_that_belongs_here(
    curator_client: Client, films: dict[str, CatalogItem]
) -> None:
    heat = films["Heat"]
    make_item(title="Heat Wave", kind="series", tmdb_id=5000)

    found = curator_client.get(
        reverse("embeddings:similar", args=[heat.pk]), {"belongs": "up"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Up (1984)" in found and "Heat Wave" not in found  # a series cannot belong to a film
    response = _curate(curator_client, heat, neighbour=films["Up"].pk, action="good")

    assert "Up (1984)" in response.content.decode()  # listed among what curators said
    [judgment] = Judgment.objects.all()
    assert (judgment.neighbour_tmdb_id, judgment.grade) == (films["Up"].tmdb_id, 2)
