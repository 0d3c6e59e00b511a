"""Judged recall@10 and nDCG@10 against hand-computed values, and judgments files read line by line.

The worked example: film Q is judged B great (2), C and D acceptable (1), E wrong (0); its top
list is X, C, B, E, Y.
- recall@10: B and C of the three relevant films: 2/3.
- DCG: C at rank 2 gains 1/log2(3), B at rank 3 gains 2/log2(4) = 1: 1.63093.
- ideal DCG: 2/log2(2) + 1/log2(3) + 1/log2(4) = 3.13093; nDCG = 1.63093 / 3.13093 = 0.52091.
Film F is judged G great and finds it first: recall and nDCG 1. Film H has only a wrong film
judged: it is not a judged query. Averages over Q and F: recall 5/6, nDCG 0.76046.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from catalog.models import CatalogItem
from embeddings import quality
from embeddings.models import Embedding384, Grade, QualityRun
from embeddings.models.curation import judge
from embeddings.quality import judged
from embeddings.quality.judged import BadLine, Judged, JudgmentsFileError
from tests.conftest import make_item
from tests.quality.conftest import place
from tests.similar.helpers import at_angle, embed

Q, B, C, D, E, F, G, H, J, X, Y = range(1, 12)
GRADES = {Q: {B: 2, C: 1, D: 1, E: 0}, F: {G: 2}, H: {J: 0}}
FOUND = {Q: [X, C, B, E, Y], F: [G, X], H: [J]}


def test_recall_at_10_counts_the_relevant_films_found_out_of_at_most_ten() -> None:
    assert judged.recall_at_k(FOUND[Q], GRADES[Q]) == pytest.approx(2 / 3)
    assert judged.recall_at_k(FOUND[F], GRADES[F]) == 1.0
    twelve_relevant = {film: 1 for film in range(100, 112)}
    assert judged.recall_at_k(list(range(100, 110)), twelve_relevant) == 1.0


def test_ndcg_at_10_weighs_each_grade_by_its_rank_against_the_best_order() -> None:
    dcg = 1 / math.log2(3) + 2 / math.log2(4)
    ideal = 2 + 1 / math.log2(3) + 1 / math.log2(4)
    assert judged.ndcg_at_k(FOUND[Q], GRADES[Q]) == pytest.approx(dcg / ideal)
    assert judged.ndcg_at_k(FOUND[Q], GRADES[Q]) == pytest.approx(0.52091, abs=1e-5)
    assert judged.ndcg_at_k([C, B], {B: 2, C: 1}) < judged.ndcg_at_k([B, C], {B: 2, C: 1}) == 1.0


def test_the_score_averages_over_the_queries_with_a_relevant_film() -> None:
    score = judged.averaged(GRADES, FOUND)

    assert score.queries == 2
    assert score.recall_at_10 == pytest.approx(5 / 6)
    assert score.ndcg_at_10 == pytest.approx((0.52091 + 1) / 2, abs=1e-5)
    assert score.as_dict() == {
        "judged_queries": 2,
        "judged_recall_at_10": 0.8333,
        "judged_ndcg_at_10": 0.7605,
    }


def test_a_query_nothing_was_found_for_scores_zero_and_no_judgments_score_nothing() -> None:
    assert judged.averaged({Q: GRADES[Q]}, {}) == judged.JudgedScore(1, 0.0, 0.0)
    assert judged.averaged({}, FOUND) == judged.JudgedScore(0, 0.0, 0.0)


@pytest.mark.django_db
def test_judgments_count_only_films_of_their_kind_with_a_vector_of_the_model() -> None:
    films = {tmdb_id: make_item(tmdb_id=tmdb_id, title=f"Film {tmdb_id}") for tmdb_id in (1, 2, 3)}
    for tmdb_id in (1, 2):
        embed(films[tmdb_id], Embedding384, "m", at_angle(384, tmdb_id))
    series = make_item(kind="series", tmdb_id=1, title="Film 1, the series")
    embed(series, Embedding384, "m", at_angle(384, 3))

    found = judged.judged_items(
        [
            Judged(1, 2, 1),
            Judged(1, 2, 2),  # judged again: the later grade counts
            Judged(1, 3, 2),  # film 3 has no vector of "m"
            Judged(1, 999, 2),  # not in the catalog
            Judged(1, 2, 1, kind="series"),  # the series has no "series" 2 to find
        ],
        Embedding384,
        "m",
    )

    assert found == {films[1].pk: {films[2].pk: 2}}
    assert judged.judged_items([Judged(1, 2, 2)], Embedding384, "other") == {}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "judgments.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_judgments_file_keeps_its_good_rows_and_names_each_bad_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "query_tmdb_id,relevant_tmdb_id,grade,kind\n"
        "77,1018,2,\n"
        "77,11324,3,movie\n"
        "77,,1,movie\n"
        "abc,1,1,movie\n"
        "1396,1398,1,series\n"
        "77,603,1,film\n",
    )

    rows, bad = judged.parse_judgments(path)

    assert rows == [Judged(77, 1018, 2, "movie"), Judged(1396, 1398, 1, "series")]
    assert [str(b) for b in bad] == [
        "line 3: grade must be 0, 1 or 2, got 3",
        "line 4: relevant_tmdb_id is empty",
        "line 5: query_tmdb_id must be a whole number, got 'abc'",
        "line 7: kind must be one of movie, series, got 'film'",
    ]
    assert bad[0] == BadLine(3, "grade must be 0, 1 or 2, got 3")


def test_a_file_without_the_columns_or_that_cannot_be_read_is_refused(tmp_path: Path) -> None:
    with pytest.raises(JudgmentsFileError, match="lacks the column grade"):
        judged.parse_judgments(_write(tmp_path, "query_tmdb_id,relevant_tmdb_id\n1,2\n"))
    with pytest.raises(JudgmentsFileError, match="cannot read"):
        judged.parse_judgments(tmp_path / "missing.csv")


def test_the_judged_list_in_the_tests_data_is_a_curators_list() -> None:
    """At least 40 query films, each with 8 to 12 graded films, none judging itself."""
    rows, bad = judged.parse_judgments(Path(__file__).parents[1] / "data" / "judged_films.csv")

    assert bad == []
    per_query: dict[int, set[int]] = {}
    for row in rows:
        assert row.grade in (1, 2) and row.query != row.relevant
        per_query.setdefault(row.query, set()).add(row.relevant)
    assert len(per_query) >= 40
    assert all(8 <= len(films) <= 12 for films in per_query.values())


@pytest.mark.django_db
@pytest.mark.usefixtures("exact_neighbours")
def test_a_measurement_keeps_each_blends_judged_scores_beside_the_franchise_ones(
    franchise_films: dict[str, CatalogItem],
) -> None:
    """Alpha 1 (0°) lists Alpha 2, Alpha 3, then Beta 1 (90°): the film judged great is third,
    so recall is 1 and nDCG (2 / log2(4)) / 2 = 0.5."""
    place(franchise_films, "poor", good=False)
    alpha, beta = franchise_films["alpha-1"], franchise_films["beta-1"]

    run = quality.measure("poor", judgments=[Judged(alpha.tmdb_id, beta.tmdb_id, 2)])
    plain = quality.measure("poor")

    vector = QualityRun.objects.get(pk=run.pk).score("vector")
    assert vector is not None
    assert (vector.judged_queries, vector.judged_recall_at_10, vector.judged_ndcg_at_10) == (
        1, 1.0, 0.5,
    )  # fmt: skip
    assert (vector.queries, vector.recall_at_10) == (5, 0.6)
    assert all(s.judged_queries == 1 for s in run.scores.all())
    unjudged = QualityRun.objects.get(pk=plain.pk).score("vector")
    assert unjudged is not None
    assert (unjudged.judged_queries, unjudged.judged_recall_at_10) == (0, None)


@pytest.mark.django_db
@pytest.mark.usefixtures("exact_neighbours")
def test_a_queued_measurement_scores_the_judgments_curators_stored(
    franchise_films: dict[str, CatalogItem], curator_user: User
) -> None:
    """A curator judged Beta 1 great and Alpha 2 wrong for Alpha 1 (0°), which lists Alpha 2,
    Alpha 3, then Beta 1: recall 1 and nDCG (2 / log2(4)) / 2 = 0.5, as when a file is given."""
    place(franchise_films, "poor", good=False)
    alpha = franchise_films["alpha-1"]
    judge(alpha, franchise_films["beta-1"], Grade.GOOD, curator_user)
    judge(alpha, franchise_films["alpha-2"], Grade.BAD, curator_user)

    queued = quality.measure_soon("poor")
    quality.run_measurement(queued.pk)  # the worker's task body
    not_judged = quality.measure("poor", judgments=[])

    for blend in ("vector", "lexical", "hybrid"):
        score = QualityRun.objects.get(pk=queued.pk).score(blend)
        assert score is not None and score.judged_queries == 1
    vector = QualityRun.objects.get(pk=queued.pk).score("vector")
    assert vector is not None
    assert (vector.judged_recall_at_10, vector.judged_ndcg_at_10) == (1.0, 0.5)
    unjudged = QualityRun.objects.get(pk=not_judged.pk).score("vector")
    assert unjudged is not None and unjudged.judged_queries == 0
