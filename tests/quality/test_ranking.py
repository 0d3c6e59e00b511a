"""The batched ranking the quality panel and the disagreement list use gives the similar page's
neighbours: the same items, in the same order, ties to the lower id."""

from __future__ import annotations

import random

import numpy as np
import pytest
from scipy import sparse

from catalog.models import CatalogItem
from embeddings import quality
from embeddings.models import Embedding384
from embeddings.neighbours import blends, lexical_rows
from embeddings.neighbours.blends import Ranked
from embeddings.neighbours.filters import Filters
from embeddings.neighbours.prior import DEFAULT_PRIOR_WEIGHT
from embeddings.quality import ranking
from embeddings.registry import resolve
from tests.conftest import make_item
from tests.similar.helpers import embed, unit

pytestmark = pytest.mark.django_db

MODEL = "local:all-MiniLM-L6-v2"
WORDS = ["space", "saga", "robot", "heist", "detective", "ocean"]
WORDS += ["dragon", "castle", "river", "storm", "winter", "empire"]


@pytest.fixture
def catalog() -> list[CatalogItem]:
    """Twenty films and three series with words and vectors drawn with a fixed seed; a twin of
    film 3 (same words, same vector, same votes: it ties with film 3 for every other item), and
    a film with words but no vector. Votes and ratings vary, so the prior reorders them."""
    draw, votes = random.Random(7), random.Random(8)
    items = []
    for i in range(23):
        words = " ".join(draw.sample(WORDS, 4))
        kind = "series" if i >= 20 else "movie"
        items.append(
            make_item(
                title=f"Title {i} {words}", overview=words.title(), kind=kind,
                vote_count=votes.choice([None, 0, 12, 300, 4000, 20000]),
                vote_average=round(votes.uniform(3, 9), 1),
            )
        )  # fmt: skip
    film_3 = items[3]
    items.append(
        make_item(
            title=film_3.title, overview=film_3.overview,
            vote_count=film_3.vote_count, vote_average=film_3.vote_average,
        )
    )  # fmt: skip
    items.append(make_item(title="Saga of the robot empire", overview="Space robot saga."))
    lexical_rows.refresh()
    for i, item in enumerate(items[:-1]):
        draw = random.Random(3 if i == len(items) - 2 else i)
        embed(item, Embedding384, MODEL, unit(384, *[draw.uniform(-1, 1) for _ in range(6)]))
    return items


def _page(
    item: CatalogItem, blend: str, k: int = 10, prior_weight: float = DEFAULT_PRIOR_WEIGHT
) -> list[blends.Ranked]:
    return blends.blended_neighbours(
        item, resolve(MODEL), blend=blend, k=k, prior_weight=prior_weight,
        filters=Filters(kind=item.kind),
    )  # fmt: skip


def _batched(
    blend: str, items: list[CatalogItem], prior_weight: float = DEFAULT_PRIOR_WEIGHT
) -> dict[int, list[tuple[int, float]]]:
    signals = ranking.Signals.of(resolve(MODEL), blend, prior_weight=prior_weight)
    return ranking.top(signals, [item.pk for item in items])


def _score(found: Ranked) -> float:
    assert found.score is not None  # a blend scores every item it ranks
    return found.score


def test_the_batched_hybrid_ranking_is_the_similar_pages(catalog: list[CatalogItem]) -> None:
    batched = quality.blend_top_ids(Embedding384, MODEL, "hybrid", [item.pk for item in catalog])

    for item in catalog:
        # PostgreSQL sums in single precision: two scores equal in exact arithmetic (two films
        # sharing as many equally weighted words) may come back 1e-8 apart, and the page then
        # orders them by that. Equal to 6 decimals is a tie here, the lower id first, as the
        # page orders exact ties; 20 neighbours show which ties the 10th place cuts.
        page = sorted(_page(item, "hybrid", k=20), key=lambda r: (-round(_score(r), 6), r.item.pk))
        assert batched[item.pk] == [r.item.pk for r in page[:10]], item.title
    film_3, twin, no_vector = catalog[3], catalog[-2], catalog[-1]
    both = [ids for ids in batched.values() if film_3.pk in ids and twin.pk in ids]
    # Tied everywhere, the lower id first (other items may tie with them too).
    assert both and all(ids.index(film_3.pk) < ids.index(twin.pk) for ids in both)
    # The film with no vector is ranked by its words, and ranks others by theirs.
    assert any(no_vector.pk in batched[item.pk] for item in catalog[:20])
    assert len(batched[no_vector.pk]) == 10
    # Films find films, series find series.
    series = {item.pk for item in catalog if item.kind == "series"}
    assert all(set(batched[pk]) == series - {pk} for pk in series)


@pytest.mark.usefixtures("exact_neighbours")  # the same items, not two walks of a tiny graph
@pytest.mark.parametrize("prior_weight", [0.0, DEFAULT_PRIOR_WEIGHT])
@pytest.mark.parametrize("blend", ["vector", "lexical", "hybrid"])
def test_every_blend_scores_as_the_page_does_with_and_without_the_prior(
    catalog: list[CatalogItem], blend: str, prior_weight: float
) -> None:
    batched = _batched(blend, catalog, prior_weight)

    for item in catalog:
        page = [(r.item.pk, _score(r)) for r in _page(item, blend, prior_weight=prior_weight)]
        found = batched[item.pk]
        assert [s for _, s in found] == pytest.approx([s for _, s in page], abs=1e-6)
        # The page leaves the order of exact ties to PostgreSQL (its vector and lexical
        # blends): everything above the last place's score is the same items in both.
        cut = page[-1][1] + 1e-6 if len(page) == 10 else -np.inf
        assert sorted(pk for pk, s in found if s > cut) == sorted(pk for pk, s in page if s > cut)
    # The film with no vector has no vector neighbours, and is no one's.
    if blend == "vector":
        assert batched[catalog[-1].pk] == []
        assert all(catalog[-1].pk not in [pk for pk, _ in found] for found in batched.values())


def test_a_query_with_no_row_of_its_blend_has_no_neighbours(catalog: list[CatalogItem]) -> None:
    no_vector = catalog[-1]

    assert _batched("vector", [no_vector]) == {no_vector.pk: []}
    assert _page(no_vector, "vector") == []


def test_ties_at_the_cut_go_to_the_lower_ids() -> None:
    """More equal scores than places, in two chunks: the lowest ids win, as the page sorts."""
    best = ranking._Best(np.array([1]), 3)
    for ids in (np.arange(100, 110), np.arange(110, 120)):
        block = ranking._Block(ids, None, np.ones(10, bool), None, np.zeros(10, bool), np.zeros(10))
        scores = np.full((1, 10), 0.5)
        scores[0, ids == 117] = 0.9
        best.add(block, scores)

    assert best.as_lists() == {1: [(117, 0.9), (100, 0.5), (101, 0.5)]}


@pytest.mark.parametrize(("share", "most"), [(0.05, 1024), (0.0, 1024), (0.05, 2), (1.0, 0)])
def test_frequent_words_multiplied_densely_give_the_sparse_products_cosines(
    share: float, most: int
) -> None:
    """Words in many rows are multiplied as dense columns (at most `most` of them), the rest
    sparsely: the cosines are the plain sparse product's, whatever the split."""
    draw = np.random.default_rng(5)
    # 40 rows over 30 words, a few in nearly every row; the queries know 25 of the words.
    weights = draw.uniform(0.1, 1.0, (40, 30)) * (draw.random((40, 30)) < 0.2)
    weights[:, :3] = draw.uniform(0.1, 1.0, (40, 3))
    asked = draw.uniform(0.1, 1.0, (7, 25)) * (draw.random((7, 25)) < 0.3)
    asked[:, 0] = 0.5
    rows, queries = sparse.csr_matrix(weights), sparse.csr_matrix(asked)

    found = ranking._lexical_cosines(queries, rows, share=share, most=most)

    assert found == pytest.approx((queries @ rows[:, :25].T).toarray())
