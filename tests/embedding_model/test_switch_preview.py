"""Before a switch is confirmed: what would serve (coverage, quality blended and vector-only,
its age) and how the items without a vector of that model would get their neighbours."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from embeddings.models import LexicalVector, QualityRun
from embeddings.switching.actions import SwitchRefused
from embeddings.switching.preview import BACK, NOW, preview
from tests.conftest import make_item
from tests.embedding_model.switching import NEW, OLD, add_vector, set_settings

pytestmark = pytest.mark.django_db


def _measured(model_key: str, vectors: int, **recall: float) -> QualityRun:
    run = QualityRun.objects.create(
        model_key=model_key,
        status="done",
        vectors=vectors,
        finished_at=timezone.now() - timedelta(days=3),
    )
    for blend, value in recall.items():
        run.scores.create(blend=blend, queries=5, recall_at_10=value, hit_at_10=value)
    return run


def test_switching_onto_a_partial_set_shows_its_coverage_quality_and_its_gaps() -> None:
    items = [make_item(title=f"Film {i}") for i in range(4)]
    add_vector(items[0], NEW)
    set_settings(active_model_key=OLD, building_model_key=NEW)
    _measured(NEW, vectors=1, hybrid=0.91, vector=0.87)

    shown = preview(NOW)

    assert shown.action == NOW
    assert shown.confirm_value == NEW
    serve = shown.serve
    assert (serve.coverage.covered, serve.coverage.total) == (1, 4)  # type: ignore[union-attr]
    assert serve.blend == "hybrid"  # every item has its lexical row
    assert serve.blended and serve.blended.recall_at_10 == 0.91
    assert serve.vector_only and serve.vector_only.recall_at_10 == 0.87
    assert serve.measured_at and timezone.now() - serve.measured_at > timedelta(days=2)
    assert serve.gaps == (
        f"3 items without a {NEW} vector get neighbours from shared words only (lexical), "
        "and reach other items' lists only through shared words, until their vectors are made."
    )
    assert shown.stop.key == OLD
    assert shown.gate is None  # the set is not complete: no verdict yet


def test_without_lexical_rows_the_missing_items_get_no_neighbours_at_all() -> None:
    for title in ("Heat", "Ronin"):
        make_item(title=title)
    LexicalVector.objects.all().delete()
    set_settings(active_model_key=OLD, building_model_key=NEW)

    serve = preview(NOW).serve

    assert serve.blended is None and serve.measured_at is None
    assert serve.gaps.startswith(f"2 items without a {NEW} vector get no neighbours at all")


def test_switching_back_shows_the_old_sets_coverage_and_a_measurement_of_fewer_vectors() -> None:
    items = [make_item(title=f"Film {i}") for i in range(3)]
    for item in items:
        add_vector(item, NEW)
    add_vector(items[0], OLD)
    set_settings(active_model_key=NEW, previous_model_key=OLD)
    _measured(OLD, vectors=0, hybrid=0.5, vector=0.4)
    add_vector(items[1], OLD)

    shown = preview(BACK)

    assert shown.serve.key == OLD
    assert shown.serve.coverage.covered == 2  # type: ignore[union-attr]
    assert shown.serve.measured_on_fewer_vectors
    assert shown.serve.gaps.startswith("1 item without")
    assert shown.stop.key == NEW and not shown.stop.gaps


@pytest.mark.parametrize(
    ("action", "reason"),
    [(NOW, "No model is being built."), (BACK, "There is no previous model to switch back to.")],
)
def test_a_switch_not_on_offer_has_no_preview(action: str, reason: str) -> None:
    set_settings(active_model_key=OLD)

    with pytest.raises(SwitchRefused, match=reason):
        preview(action)
