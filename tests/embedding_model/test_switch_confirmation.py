"""Nothing changes what serves in one click: switch now and switch back first show what would
serve (coverage, quality blended and vector-only, the measurement's age, how items without a
vector get neighbours) and need a confirmation; a POST without it changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from embeddings.models import EmbeddingSettings, QualityRun
from tests.conftest import make_item
from tests.embedding_model.switching import NEW, OLD, add_vector, set_settings

pytestmark = pytest.mark.django_db

NOW = "embeddings:embedding_switch_now"
BACK = "embeddings:embedding_switch_back"


def _building_a_quarter() -> None:
    """OLD serves all four films; NEW, being built, has one of them, measured two days ago."""
    films = [make_item(title=f"Film {i}") for i in range(4)]
    for film in films:
        add_vector(film, OLD)
    add_vector(films[0], NEW)
    set_settings(active_model_key=OLD, building_model_key=NEW)
    run = QualityRun.objects.create(
        model_key=NEW, status="done", vectors=1, finished_at=timezone.now() - timedelta(days=2)
    )
    run.scores.create(blend="hybrid", queries=4, recall_at_10=0.912, hit_at_10=1.0)
    run.scores.create(blend="vector", queries=4, recall_at_10=0.874, hit_at_10=1.0)


def _served() -> tuple[str, str, str]:
    config = EmbeddingSettings.load()
    return config.active_key, config.building_key, config.previous_model_key


def test_switch_now_shows_what_would_serve_before_anything_changes(
    role_clients: dict[str, Client],
) -> None:
    _building_a_quarter()

    page = role_clients["admin"].get(reverse(NOW)).content.decode()

    assert f"Switch now: serve <code>{NEW}</code>?" in page
    assert "1 of 4 items (25%)" in page  # the set that would serve
    assert "4 of 4 items (100%)" in page  # the set serving now
    assert "recall@10 <strong>0.912</strong>" in page  # hybrid, what the similar page serves
    assert "recall@10 <strong>0.874</strong>" in page  # vectors only
    assert "2\xa0days ago" in page
    assert f"3 items without a {NEW} vector get neighbours from shared words only" in page
    assert f'name="confirm" value="{NEW}"' in page
    assert _served() == (OLD, NEW, "")


@pytest.mark.parametrize("data", [{}, {"confirm": ""}])
def test_a_switch_now_post_without_the_confirmation_changes_nothing(
    role_clients: dict[str, Client], data: dict[str, str]
) -> None:
    _building_a_quarter()

    response = role_clients["admin"].post(reverse(NOW), data)

    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was changed: confirm the switch below." in page
    assert "1 of 4 items (25%)" in page
    assert _served() == (OLD, NEW, "")
    assert not LogEntry.objects.exists()


def test_a_confirmed_switch_now_serves_the_new_model_and_is_logged(
    role_clients: dict[str, Client],
) -> None:
    _building_a_quarter()

    response = role_clients["admin"].post(reverse(NOW), {"confirm": NEW}, follow=True)

    page = response.content.decode()
    assert f"Switched: {NEW} is now the active model." in page
    assert _served() == (NEW, "", OLD)
    entry = LogEntry.objects.get()
    assert entry.user.username == "ada"
    assert entry.change_message == f"Switched now: {OLD} → {NEW}, {NEW} covering 1 of 4 items (25%)"
    history = page[page.index('id="switch-history"') :]
    assert f"Switched now: {OLD} → {NEW}" in history
    assert "ada" in history


def test_a_confirmation_made_before_another_admin_changed_the_switch_changes_nothing(
    role_clients: dict[str, Client],
) -> None:
    _building_a_quarter()

    response = role_clients["admin"].post(
        reverse(NOW), {"confirm": "openai:text-embedding-3-small"}, follow=True
    )

    assert "The switch changed since you confirmed it" in response.content.decode()
    assert _served() == (OLD, NEW, "")


def test_switch_back_shows_the_old_sets_coverage_and_needs_the_confirmation(
    role_clients: dict[str, Client],
) -> None:
    films = [make_item(title=f"Film {i}") for i in range(3)]
    for film in films:
        add_vector(film, NEW)
    add_vector(films[0], OLD)  # the catalog grew since OLD served
    set_settings(active_model_key=NEW, previous_model_key=OLD)

    page = role_clients["admin"].get(reverse(BACK)).content.decode()
    assert f"Switch back: serve <code>{OLD}</code>?" in page
    assert "1 of 3 items (33%)" in page
    assert f"2 items without a {OLD} vector" in page

    refused = role_clients["admin"].post(reverse(BACK))
    assert refused.status_code == 400
    assert _served() == (NEW, "", OLD)

    done = role_clients["admin"].post(reverse(BACK), {"confirm": OLD}, follow=True)
    assert f"Switched back: {OLD} is the active model again." in done.content.decode()
    assert _served() == (OLD, "", NEW)
    assert LogEntry.objects.get().change_message.startswith(f"Switched back: {NEW} → {OLD}")


def test_the_settings_page_links_to_the_confirmations_instead_of_switching(
    role_clients: dict[str, Client],
) -> None:
    _building_a_quarter()
    set_settings(previous_model_key="openai:text-embedding-3-small")

    page = role_clients["admin"].get(reverse("embeddings:embedding_model")).content.decode()

    assert f'href="{reverse(NOW)}"' in page
    assert f'<form method="post" action="{reverse(NOW)}"' not in page


@pytest.mark.parametrize("name", [NOW, BACK])
@pytest.mark.parametrize("role", ["staff", "curator", "outsider"])
def test_only_admins_see_a_switch_confirmation(
    role_clients: dict[str, Client], name: str, role: str
) -> None:
    _building_a_quarter()

    assert role_clients[role].get(reverse(name)).status_code == 403


def test_a_switch_not_on_offer_goes_back_to_the_settings_page_with_why(
    role_clients: dict[str, Client],
) -> None:
    set_settings(active_model_key=OLD)

    response = role_clients["admin"].get(reverse(NOW), follow=True)

    assert response.redirect_chain[-1][0] == reverse("embeddings:embedding_model")
    assert "No model is being built." in response.content.decode()
