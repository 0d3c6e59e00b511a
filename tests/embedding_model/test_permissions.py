"""Everyone with a role reads the embedding model page; only Embedding admins and superusers
change anything, and only by POST with a CSRF token."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from embeddings.providers.credentials import saved_values

pytestmark = pytest.mark.django_db

POSTS = [
    "embedding_model_confirm",
    "embedding_switch_now",
    "embedding_switch_back",
    "embedding_abandon",
    "embedding_connection",
    "embedding_test_connection",
]


@pytest.mark.parametrize(
    ("role", "expected"),
    [("admin", 200), ("staff", 200), ("curator", 200), ("outsider", 403), ("anonymous", 302)],
)
def test_every_role_reads_the_page_and_outsiders_are_turned_away(
    role_clients: dict[str, Client], role: str, expected: int
) -> None:
    response = role_clients[role].get(reverse("embeddings:embedding_model"))

    assert response.status_code == expected
    if role == "anonymous":
        assert response["Location"].startswith(reverse("admin:login"))
    if expected == 200:
        assert b"Embedding model" in response.content


@pytest.mark.parametrize(
    ("role", "expected"),
    [("admin", 200), ("staff", 403), ("curator", 403), ("outsider", 403), ("anonymous", 302)],
)
def test_only_admins_reach_the_confirmation_page(
    role_clients: dict[str, Client], role: str, expected: int
) -> None:
    url = reverse("embeddings:embedding_model_choose") + "?model=none:disabled"

    assert role_clients[role].get(url).status_code == expected


@pytest.mark.parametrize("name", POSTS)
@pytest.mark.parametrize(
    ("role", "expected"),
    [("admin", 302), ("staff", 403), ("curator", 403), ("outsider", 403), ("anonymous", 302)],
)
def test_only_admins_may_post_changes(
    role_clients: dict[str, Client], name: str, role: str, expected: int
) -> None:
    response = role_clients[role].post(reverse(f"embeddings:{name}"))

    assert response.status_code == expected
    if role == "admin":
        assert response["Location"] == reverse("embeddings:embedding_model")
    if role == "anonymous":
        assert response["Location"].startswith(reverse("admin:login"))


# Switch now and switch back answer a GET with their confirmation page (test_switch_confirmation).
@pytest.mark.parametrize(
    "name",
    [name for name in POSTS if name not in ("embedding_switch_now", "embedding_switch_back")],
)
def test_changes_refuse_a_get(role_clients: dict[str, Client], name: str) -> None:
    assert role_clients["admin"].get(reverse(f"embeddings:{name}")).status_code == 405


@pytest.mark.parametrize("name", POSTS)
def test_a_superuser_may_post_changes(superuser: User, name: str) -> None:
    client = Client()
    client.force_login(superuser)

    assert client.post(reverse(f"embeddings:{name}")).status_code == 302


def test_a_post_without_a_csrf_token_is_refused_and_changes_nothing(admin_user: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)

    response = client.post(
        reverse("embeddings:embedding_connection"), {"ollama_host": "http://example.com:11434"}
    )

    assert response.status_code == 403
    assert saved_values().get("ollama_host", "") == ""


def test_the_page_offers_no_change_buttons_to_staff(role_clients: dict[str, Client]) -> None:
    page = role_clients["staff"].get(reverse("embeddings:embedding_model")).content.decode()

    assert "Choose…" not in page
    assert reverse("embeddings:embedding_connection") not in page
