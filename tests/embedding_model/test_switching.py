"""Switching models without downtime: the active set serves until the new one is complete,
then the new one takes over; switching back is instant while the old set exists."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from embeddings.models import Embedding384, EmbeddingJob, EmbeddingSettings
from embeddings.switching.cutover import maybe_cut_over
from tests.conftest import make_item
from tests.embedding_model.switching import NEW, OLD, add_vector, set_settings

pytestmark = pytest.mark.django_db


def _page(client: Client) -> str:
    return client.get(reverse("embeddings:embedding_model")).content.decode()


def _switch_panel(page: str) -> str:
    """The opening tag of the switch panel: it polls while a set is being built."""
    return page[page.index('id="switch-status"') :].split(">")[0]


def test_it_keeps_serving_the_old_model_until_the_new_one_is_complete(
    role_clients: dict[str, Client],
) -> None:
    movie, series = make_item(title="Heat"), make_item(title="Dark", kind="series")
    for item in (movie, series):
        add_vector(item, OLD)
    set_settings(active_model_key=OLD, building_model_key=NEW)
    add_vector(movie, NEW)

    assert not maybe_cut_over()
    assert EmbeddingSettings.load().active_key == OLD
    page = _page(role_clients["curator"])
    assert "1 of 2 items (50%)" in page
    assert 'hx-trigger="every 2s"' in _switch_panel(page)

    add_vector(series, NEW)
    assert maybe_cut_over()

    config = EmbeddingSettings.load()
    assert (config.active_model_key, config.building_model_key, config.previous_model_key) == (
        NEW,
        "",
        OLD,
    )
    page = _page(role_clients["curator"])
    assert 'hx-trigger="every 2s"' not in _switch_panel(page)
    assert "Previous model:" in page


def test_the_coverage_partial_alone_answers_htmx_polls(role_clients: dict[str, Client]) -> None:
    make_item()
    set_settings(active_model_key=OLD, building_model_key=NEW)

    response = role_clients["curator"].get(
        reverse("embeddings:embedding_model"), headers={"HX-Request": "true"}
    )

    page = response.content.decode()
    assert page.lstrip().startswith('<div id="switch-status"')
    assert "0 of 1 items (0%)" in page
    assert "<table" not in page


def test_switch_now_makes_the_partial_set_active(role_clients: dict[str, Client]) -> None:
    movie, _ = make_item(title="Heat"), make_item(title="Ronin")
    add_vector(movie, NEW)
    set_settings(active_model_key=OLD, building_model_key=NEW)

    response = role_clients["admin"].post(
        reverse("embeddings:embedding_switch_now"), {"confirm": NEW}, follow=True
    )

    assert f"Switched: {NEW} is now the active model." in response.content.decode()
    assert EmbeddingSettings.load().active_key == NEW
    assert EmbeddingSettings.load().previous_model_key == OLD


def test_switch_back_is_instant_while_the_previous_set_exists(
    role_clients: dict[str, Client],
) -> None:
    item = make_item()
    add_vector(item, OLD)
    add_vector(item, NEW)
    set_settings(active_model_key=NEW, previous_model_key=OLD)

    response = role_clients["admin"].post(
        reverse("embeddings:embedding_switch_back"), {"confirm": OLD}, follow=True
    )

    assert f"Switched back: {OLD} is the active model again." in response.content.decode()
    config = EmbeddingSettings.load()
    assert (config.active_model_key, config.previous_model_key) == (OLD, NEW)


def test_switch_back_is_refused_once_the_previous_set_was_deleted(
    role_clients: dict[str, Client],
) -> None:
    add_vector(make_item(), NEW)
    set_settings(active_model_key=NEW, previous_model_key=OLD)

    assert "Switch back" not in _page(role_clients["admin"])
    response = role_clients["admin"].post(reverse("embeddings:embedding_switch_back"), follow=True)

    assert f"The vectors of {OLD} were deleted" in response.content.decode()
    assert EmbeddingSettings.load().active_key == NEW


def test_abandoning_a_switch_stops_its_jobs_and_keeps_what_was_built(
    role_clients: dict[str, Client],
) -> None:
    movie, _ = make_item(title="Heat"), make_item(title="Ronin")
    add_vector(movie, NEW)
    set_settings(active_model_key=OLD, building_model_key=NEW)
    job = EmbeddingJob.objects.create(kind="movie", model_key=NEW, mode="all", total=2)

    response = role_clients["admin"].post(reverse("embeddings:embedding_abandon"), follow=True)

    assert f"Stopped building {NEW}" in response.content.decode()
    job.refresh_from_db()
    assert job.status in (EmbeddingJob.Status.CANCELLING, EmbeddingJob.Status.CANCELLED)
    assert EmbeddingSettings.load().building_model_key == ""
    assert EmbeddingSettings.load().active_key == OLD
    assert Embedding384.objects.filter(model_key=NEW).count() == 1


def test_the_admin_index_summarises_models_checks_and_jobs(role_clients: dict[str, Client]) -> None:
    make_item()
    set_settings(active_model_key=OLD, building_model_key=NEW)
    EmbeddingJob.objects.create(kind="movie", model_key=NEW, status="running", done=0, total=1)

    page = role_clients["curator"].get(reverse("admin:index")).content.decode()

    summary = page[page.index('id="embedding-summary"') :]
    assert OLD in summary
    assert f"{NEW}</code>: 0 of 1 items (0%)" in summary
    assert "Movies → none:disabled" in summary
    assert "none yet" in summary


def test_an_active_model_the_registry_no_longer_knows_is_named_not_a_crash(
    role_clients: dict[str, Client],
) -> None:
    set_settings(active_model_key="openai:a-retired-model")

    response = role_clients["curator"].get(reverse("embeddings:embedding_model"))

    assert response.status_code == 200
    assert "not a model this version knows" in response.content.decode()
