"""A real django-q2 worker runs the measurements the gate queues, and the better model being
built takes over by itself, with no one pressing anything."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from catalog.models import CatalogItem
from embeddings.models import EmbeddingSettings, QualityRun
from embeddings.switching.cutover import maybe_cut_over
from tests.jobs.conftest import spawn, wait_for, worker_env
from tests.quality.conftest import NEW, OLD, building, place

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
__all__ = ["spawn", "worker_env"]  # fixtures the worker process needs


def test_a_qcluster_measures_both_models_and_the_better_one_cuts_over(
    franchise_films: dict[str, CatalogItem], spawn: Callable[..., Any]
) -> None:
    place(franchise_films, OLD, good=False)
    place(franchise_films, NEW, good=True)
    building(OLD, NEW)
    assert not maybe_cut_over()  # complete, not yet measured: both measurements are queued

    spawn("qcluster")

    wait_for(lambda: EmbeddingSettings.load().active_key == NEW, timeout=120, what="the cut-over")
    runs = {run.model_key: run for run in QualityRun.objects.prefetch_related("scores")}
    assert {key: run.status for key, run in runs.items()} == {OLD: "done", NEW: "done"}
    new_score, old_score = runs[NEW].score("vector"), runs[OLD].score("vector")
    assert new_score is not None and old_score is not None
    assert (new_score.recall_at_10, old_score.recall_at_10) == (1.0, 0.6)
