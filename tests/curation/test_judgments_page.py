"""The judgments page: every judgment with its titles, filters, pages, and who may see it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from embeddings.models import Judgment
from embeddings.models.curation import judge
from tests.conftest import make_item

pytestmark = pytest.mark.django_db
URL = "/admin/similar/judgments/"


def test_the_page_lists_judgments_newest_first_with_links_to_each_items_similar_page(
    curator_client: Client, curator_user: User, admin_user: User
) -> None:
    memento = make_item(title="Memento", year=2000, tmdb_id=77)
    drive = make_item(title="Mulholland Drive", year=2001, tmdb_id=1018)
    heat = make_item(title="Heat", year=1995, tmdb_id=949)
    judge(memento, drive, 2, curator_user)
    judge(heat, memento, 0, admin_user)

    body = curator_client.get(URL).content.decode()

    assert reverse("embeddings:judgments") == URL
    assert body.index("Heat (1995)") < body.index("Memento (2000)")  # newest first
    assert 'href="/admin/similar/tmdb/77/?kind=movie"' in body
    assert f'href="/admin/similar/{drive.pk}/"' in body
    assert "Good" in body and "Bad" in body and "cleo" in body and "ada" in body
    assert 'href="/admin/similar/judgments/"' in curator_client.get("/admin/").content.decode()


def test_filters_narrow_the_list_by_grade_curator_and_query_title(
    curator_client: Client, curator_user: User, admin_user: User
) -> None:
    memento, drive, heat = (
        make_item(title=t, tmdb_id=i) for t, i in (("Memento", 77), ("Drive", 64690), ("Heat", 949))
    )
    judge(memento, drive, 2, curator_user)
    judge(heat, drive, 0, admin_user)
    judge(heat, memento, 1, curator_user)

    def shown(**params: str) -> int:
        return curator_client.get(URL, params).content.decode().count("data-judgment=")

    assert shown() == 3
    assert shown(grade="0") == 1
    assert shown(curator="cleo") == 2
    assert shown(title="hea") == 2
    assert shown(title="hea", grade="1", curator="cleo") == 1
    assert shown(grade="7") == 3  # not a grade: filters nothing, and says so beside the field


def test_the_list_goes_a_page_at_a_time(curator_client: Client, curator_user: User) -> None:
    make_item(title="Query", tmdb_id=1)
    for i in range(55):
        Judgment.objects.create(kind="movie", query_tmdb_id=1, neighbour_tmdb_id=100 + i, grade=1)

    first = curator_client.get(URL, {"title": "quer"}).content.decode()
    second = curator_client.get(URL, {"title": "quer", "page": "2"}).content.decode()

    assert first.count("data-judgment=") == 50 and "title=quer&amp;page=2" in first
    assert second.count("data-judgment=") == 5 and "Next" not in second
    assert "(not in the catalog)" in second  # the neighbours' TMDb ids name no catalog title


def test_only_the_dashboards_roles_see_the_judgments(role_clients: dict[str, Client]) -> None:
    statuses = {role: client.get(URL).status_code for role, client in role_clients.items()}

    assert statuses == {
        "admin": 200,
        "staff": 200,
        "curator": 200,
        "outsider": 403,
        "anonymous": 302,
    }
