"""Quality numbers against a hand-made catalog whose right answers are known."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from catalog.collections import catalog_collections
from catalog.models import CatalogItem
from embeddings import quality
from embeddings.models import Embedding384, QualityRun
from tests.quality.conftest import place
from tests.similar.helpers import at_angle

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_graphs")]


def test_franchise_recall_and_hit_count_the_siblings_in_each_films_top_10(
    franchise_films: dict[str, CatalogItem], exact_neighbours: None
) -> None:
    place(franchise_films, "poor", good=False)
    place(franchise_films, "good", good=True)
    truth = catalog_collections()

    poor = quality.franchise_score("poor", truth)
    good = quality.franchise_score("good", truth)

    assert (poor.queries, poor.recall_at_10, poor.hit_at_10) == (5, 0.6, 0.6)
    assert (good.queries, good.recall_at_10, good.hit_at_10) == (5, 1.0, 1.0)


def test_a_film_finding_one_of_two_siblings_counts_half(
    franchise_films: dict[str, CatalogItem], exact_neighbours: None
) -> None:
    place(franchise_films, "m", good=True)
    # Alpha 3 moves behind the strangers: Alpha 1 and 2 still find each other, not it, and
    # its ten nearest are all strangers.
    row = Embedding384.objects.get(item=franchise_films["alpha-3"], model_key="m")
    row.embedding = at_angle(384, 180)
    row.save()

    score = quality.franchise_score("m", catalog_collections())

    # Alpha 1: 1/2, Alpha 2: 1/2, Alpha 3: 0/2, Beta 1 and 2: 1/1 each.
    assert score.queries == 5
    assert score.recall_at_10 == pytest.approx((0.5 + 0.5 + 0 + 1 + 1) / 5)
    assert score.hit_at_10 == pytest.approx(4 / 5)


def test_only_films_with_a_vector_and_an_embedded_sibling_are_asked(
    franchise_films: dict[str, CatalogItem],
) -> None:
    place(franchise_films, "m", good=True)
    Embedding384.objects.filter(item=franchise_films["beta-2"], model_key="m").delete()

    assert quality.franchise_score("m", catalog_collections()).queries == 3


def test_a_large_catalog_is_sampled_with_a_fixed_seed(
    franchise_films: dict[str, CatalogItem],
) -> None:
    place(franchise_films, "m", good=False)
    table = Embedding384
    truth = catalog_collections()

    first = quality.franchise_queries(table, "m", truth, max_queries=2)
    again = quality.franchise_queries(table, "m", truth, max_queries=2)
    other_seed = [
        quality.franchise_queries(table, "m", truth, max_queries=2, seed=seed) for seed in range(20)
    ]

    assert len(first) == 2 and first == again
    assert any(sample != first for sample in other_seed)
    assert quality.franchise_score("m", truth, max_queries=2).queries == 2


def test_the_index_walk_is_measured_against_an_exact_scan(
    franchise_films: dict[str, CatalogItem],
) -> None:
    place(franchise_films, "m", good=True)

    asked, recall = quality.index_recall("m")

    # 16 items: every one is asked, and on a graph this small the walk misses nothing.
    assert (asked, recall) == (16, 1.0)
    assert quality.index_recall("m", sample=5)[0] == 5


def test_a_measurement_is_kept_with_its_date_scores_and_size(
    franchise_films: dict[str, CatalogItem],
) -> None:
    place(franchise_films, "poor", good=False)

    run = quality.measure("poor")

    run = QualityRun.objects.get(pk=run.pk)
    assert run.status == QualityRun.Status.DONE and run.finished_at is not None
    assert (run.vectors, run.index_queries, run.index_recall_at_10) == (16, 16, 1.0)
    score = run.score("vector")
    assert score is not None
    assert (score.queries, score.recall_at_10, score.hit_at_10) == (5, 0.6, 0.6)
    assert run.seconds is not None and run.seconds >= 0


def test_a_model_without_vectors_fails_with_its_reason() -> None:
    run = quality.measure("openai:text-embedding-3-small")

    assert run.status == QualityRun.Status.FAILED
    assert run.error == "no vectors are stored for openai:text-embedding-3-small"


def test_a_queued_measurement_runs_once_even_when_two_workers_pick_it(
    franchise_films: dict[str, CatalogItem],
) -> None:
    place(franchise_films, "m", good=True)
    queued = quality.measure_soon("m")
    assert quality.measure_soon("m") == queued  # a second request joins the queued one

    assert quality.run_measurement(queued.pk) is not None
    assert quality.run_measurement(queued.pk) is None
    assert QualityRun.objects.get(pk=queued.pk).status == QualityRun.Status.DONE


@pytest.mark.parametrize(
    ("left", "right", "overlap", "rbo"),
    [
        ([1, 2, 3], [1, 2, 3], 1.0, 1.0),
        ([1, 2, 3], [4, 5, 6], 0.0, 0.0),
        ([], [], 0.0, 0.0),
        # Same items, reversed: overlap is blind to order, RBO is not.
        ([1, 2, 3, 4], [4, 3, 2, 1], 1.0, None),
    ],
)
def test_overlap_and_rank_biased_overlap(
    left: list[int], right: list[int], overlap: float, rbo: float | None
) -> None:
    found = quality.agreement(left, right)
    assert found.overlap_at_10 == overlap
    if rbo is not None:
        assert found.rbo == pytest.approx(rbo)
    else:
        assert 0 < found.rbo < 1


def test_rank_biased_overlap_weighs_agreement_at_the_top_most() -> None:
    top_agrees = quality.rank_biased_overlap([1, 2, 3, 4], [1, 2, 5, 6])
    bottom_agrees = quality.rank_biased_overlap([3, 4, 1, 2], [5, 6, 1, 2])
    # Hand computation, p = 0.9, depth 4: X = (1, 2, 2, 2) against (0, 0, 1, 2).
    expected_top = 2 / 4 * 0.9**4 + 0.1 / 0.9 * sum(
        x / d * 0.9**d for d, x in enumerate((1, 2, 2, 2), start=1)
    )
    assert top_agrees == pytest.approx(expected_top)
    assert top_agrees > bottom_agrees


def test_eval_neighbours_and_bench_quality_give_the_panels_numbers(
    franchise_films: dict[str, CatalogItem],
) -> None:
    place(franchise_films, "poor", good=False)
    run = quality.measure("poor")
    panel = run.score("vector")
    assert panel is not None

    out = StringIO()
    call_command("eval_neighbours", "--model", "poor", "--json", stdout=out)
    evaluated = json.loads(out.getvalue())["poor"]
    out = StringIO()
    call_command("bench_quality", "--model", "poor", "--json", stdout=out)
    benched = json.loads(out.getvalue())["poor"]

    expected = {"queries": panel.queries, "recall_at_10": 0.6, "hit_at_10": 0.6}
    assert panel.recall_at_10 == 0.6
    # One object per model, or per model and blend once the command reports blends.
    assert expected.items() <= evaluated.items() or expected.items() <= evaluated["vector"].items()
    assert {k: benched["vector"][k] for k in expected} == expected
    assert benched["index"]["queries"] == 16 and benched["index"]["recall_at_10"] == 1.0
    assert benched["total_seconds"] >= benched["vector"]["seconds"] >= 0
