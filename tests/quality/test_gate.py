"""The quality gate on the automatic cut-over: a model being built takes over by itself only
when it measures at least as well as the serving one, minus a margin."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from typing import Any

import pytest
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse
from django_q.models import OrmQ

from catalog.models import CatalogItem
from embeddings import jobs, tasks
from embeddings.models import Embedding384, EmbeddingSettings, QualityRun
from embeddings.switching.cutover import maybe_cut_over, measure_then_cut_over
from tests.conftest import make_item
from tests.quality.conftest import NEW, OLD, building, place
from tests.similar.helpers import at_angle, embed

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("exact_neighbours")]


def _page(client: Client) -> str:
    return client.get(reverse("embeddings:embedding_model")).content.decode()


def _gate_paragraph(page: str) -> str:
    found = re.search(r'<p id="quality-gate".*?</p>', page, re.DOTALL)
    assert found, "the page says nothing about the gate"
    return found.group(0)


def _run_queued_measurements() -> None:
    """What the worker does with each queued quality task."""
    for run in QualityRun.objects.filter(status=QualityRun.Status.QUEUED):
        measure_then_cut_over(run.pk)


def _active() -> str:
    return EmbeddingSettings.load().active_key


def _build_new(films: dict[str, CatalogItem], *, better: bool) -> None:
    """OLD serves and NEW is being built, its set complete: better or worse than OLD."""
    place(films, OLD, good=not better)
    place(films, NEW, good=better)
    building(OLD, NEW)


def _measure_both(films: dict[str, CatalogItem], *, better: bool) -> bool:
    """Build NEW, let the cut-over queue both measurements and the worker run them; whether the
    first cut-over attempt switched."""
    _build_new(films, better=better)
    switched = maybe_cut_over()
    _run_queued_measurements()
    return switched


def test_a_worse_model_being_built_waits_with_both_numbers_shown(
    franchise_films: dict[str, CatalogItem], role_clients: dict[str, Client]
) -> None:
    _build_new(franchise_films, better=False)

    # The set is complete, but neither model is measured yet: both are queued, nothing switches.
    assert not maybe_cut_over()
    assert set(QualityRun.objects.values_list("model_key", "status")) == {
        (OLD, "queued"),
        (NEW, "queued"),
    }
    assert OrmQ.objects.count() == 2
    assert "measuring" in _page(role_clients["curator"])

    _run_queued_measurements()

    assert _active() == OLD
    assert EmbeddingSettings.load().building_key == NEW
    page = _page(role_clients["admin"])
    gate = _gate_paragraph(page)
    assert "Held: it does not take over by itself." in gate
    # Judged on the page's default blend, hybrid (every item has its lexical row): Beta's two
    # films share their title's word, so Beta 2 finds Beta 1 where vectors alone find neither
    # (hybrid 4/5 = 0.8, vector 0.6), against 1.0 for the serving model.
    assert "Franchise recall@10 (hybrid neighbours)" in gate
    assert f"<code>{NEW}</code>: <strong>0.800</strong>" in gate
    assert f"<code>{OLD}</code>: <strong>1.000</strong>" in gate
    assert "Switch anyway" in page
    # A curator sees why, but has no button.
    curator_page = _page(role_clients["curator"])
    assert "Held: it does not take over by itself." in curator_page
    assert "Switch anyway" not in curator_page


def test_switch_anyway_shows_both_numbers_and_needs_the_confirmation(
    franchise_films: dict[str, CatalogItem], role_clients: dict[str, Client]
) -> None:
    _measure_both(franchise_films, better=False)
    switch = reverse("embeddings:embedding_switch_now")
    assert role_clients["curator"].post(switch, {"confirm": NEW}).status_code == 403

    page = role_clients["admin"].get(switch).content.decode()
    assert f"Switch anyway: serve <code>{NEW}</code>?" in page
    assert "The quality gate holds this model: recall@10 0.800 is below" in page
    assert "recall@10 <strong>0.800</strong>" in page  # hybrid
    assert "recall@10 <strong>0.600</strong>" in page  # vectors only
    assert "16 of 16 items (100%)" in page

    refused = role_clients["admin"].post(switch)
    assert refused.status_code == 400
    assert "Nothing was changed: confirm the switch below." in refused.content.decode()
    assert _active() == OLD
    assert not LogEntry.objects.exists()

    response = role_clients["admin"].post(switch, {"confirm": NEW}, follow=True)

    assert f"Switched: {NEW} is now the active model." in response.content.decode()
    config = EmbeddingSettings.load()
    assert (config.active_key, config.building_key, config.previous_model_key) == (NEW, "", OLD)
    entry = LogEntry.objects.get()
    assert entry.user.username == "ada"
    assert entry.change_message.startswith(
        f"Switched anyway past the held quality gate: {OLD} → {NEW}"
    )


def test_a_better_model_cuts_over_by_itself(franchise_films: dict[str, CatalogItem]) -> None:
    assert not _measure_both(franchise_films, better=True)

    assert _active() == NEW
    assert EmbeddingSettings.load().building_key == ""


def test_a_model_within_the_margin_cuts_over(
    franchise_films: dict[str, CatalogItem], settings: Any
) -> None:
    settings.QUALITY_GATE_MARGIN = 0.5  # 0.6 >= 1.0 - 0.5
    _measure_both(franchise_films, better=False)

    assert _active() == NEW


def test_a_measurement_of_a_smaller_set_does_not_count(
    franchise_films: dict[str, CatalogItem],
) -> None:
    _measure_both(franchise_films, better=True)
    assert _active() == NEW

    # Back to OLD, building NEW again after the catalog grew: NEW's old measurement is stale.
    building(OLD, NEW)
    late = make_item(title="Late arrival")
    for key in (OLD, NEW):
        embed(late, Embedding384, key, at_angle(384, 200))

    assert not maybe_cut_over()
    assert QualityRun.objects.filter(model_key=NEW, status="queued").exists()


def test_without_collections_in_the_catalog_the_gate_is_open() -> None:
    movie = make_item(title="Heat")
    embed(movie, Embedding384, OLD, at_angle(384, 0))
    embed(movie, Embedding384, NEW, at_angle(384, 0))
    building(OLD, NEW)

    assert maybe_cut_over()
    assert not QualityRun.objects.exists()


def test_a_completed_job_queues_a_measurement_of_its_model() -> None:
    make_item(title="Heat", overview="A thief and a detective in Los Angeles.")
    job = jobs.create_job("movie", OLD, "all")

    assert tasks.run_job(job.pk) == "completed"

    queued = QualityRun.objects.get()
    assert (queued.model_key, queued.status) == (OLD, "queued")
    assert OrmQ.objects.count() == 1


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("-0.1", "must be at least 0.0"),
        ("2", "must be at most 1.0"),
        ("nan", "must be a finite number"),
        ("a lot", "must be a number"),
    ],
)
def test_a_malformed_margin_stops_the_start_with_its_name(raw: str, message: str) -> None:
    env = {**os.environ, "QUALITY_GATE_MARGIN": raw}
    started = subprocess.run(
        [sys.executable, "-c", "import reclio_admin.settings"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert started.returncode != 0
    assert f"QUALITY_GATE_MARGIN {message}" in started.stderr


def test_the_margin_defaults_to_one_hundredth() -> None:
    assert settings.QUALITY_GATE_MARGIN == 0.01


def test_a_model_whose_vectors_are_noise_is_held_though_its_hybrid_score_looks_fine(
    franchise_films: dict[str, CatalogItem], role_clients: dict[str, Client]
) -> None:
    place(franchise_films, OLD, good=True)
    # Forty more strangers, so that a random top 10 seldom holds a sibling.
    films = list(franchise_films.values())
    for i in range(40):
        films.append(make_item(title=f"Passer-by {i}"))
        embed(films[-1], Embedding384, OLD, at_angle(384, 200 + i))
    # Every film of NEW points somewhere at random: only the shared title words find siblings.
    noise = random.Random(1)
    for film in films:
        embed(film, Embedding384, NEW, [noise.gauss(0, 1) for _ in range(384)])
    building(OLD, NEW)
    maybe_cut_over()
    _run_queued_measurements()

    new = QualityRun.objects.get(model_key=NEW, status="done")
    hybrid, vector = new.score("hybrid"), new.score("vector")
    assert hybrid is not None and vector is not None
    assert hybrid.recall_at_10 >= 1.0 - settings.QUALITY_GATE_MARGIN  # words alone pass
    assert vector.recall_at_10 < 0.5
    assert _active() == OLD
    gate = _gate_paragraph(_page(role_clients["admin"]))
    assert "Held: it does not take over by itself." in gate
    assert "Vector-only franchise recall@10" in gate
    assert f"<code>{NEW}</code>: <strong>{vector.recall_at_10:.3f}</strong>" in gate
