"""The three blends on a hand-made catalog, and how the lexical rows follow the catalog."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from sklearn.feature_extraction.text import TfidfVectorizer

from catalog.models import CatalogItem
from embeddings import jobs, tasks
from embeddings.models import (
    Embedding384,
    LexicalCorpus,
    LexicalPosting,
    LexicalTerm,
    LexicalVector,
)
from embeddings.neighbours import lexical_rows
from embeddings.neighbours.blends import (
    HYBRID,
    LEXICAL,
    VECTOR,
    blended_neighbours,
    explain,
    ranked,
    text_query,
)
from embeddings.neighbours.filters import Filters
from embeddings.neighbours.stored import resolve_stored
from embeddings.neighbours.vector import vector_neighbours
from embeddings.text import item_text, source_hash
from tests.jobs.conftest import LOCAL_MODEL
from tests.similar.helpers import item_at

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_graphs")]

MODEL = "m"
SAGA = "The Glimmerstone Saga"


@pytest.fixture
def catalog() -> dict[str, CatalogItem]:
    """A film and its sequel, far apart as vectors (45°) but sharing their rare words; twelve
    strangers close to the film as vectors (2° to 24°) that share none of them."""
    film = item_at(
        Embedding384, MODEL, 0, title="The Glimmerstone", collection=SAGA,
        overview="The wizard Orrin Vale guards the Glimmerstone of Kethra from the Ash King.",
        cast=["Ada Brook", "Tom Hale"], director="Mira Stone", genres=["Fantasy"],
    )  # fmt: skip
    sequel = item_at(
        Embedding384, MODEL, 45, title="The Glimmerstone Returns", collection=SAGA,
        overview="Orrin Vale returns to Kethra when the Ash King steals the Glimmerstone.",
        cast=["Ada Brook", "Lena Fox"], director="Mira Stone", genres=["Fantasy"],
    )  # fmt: skip
    strangers = {
        f"Stranger {i}": item_at(
            Embedding384,
            MODEL,
            2 * (i + 1),
            title=f"Stranger {i}",
            overview=f"A quiet drama about a family farm, season {i}.",
            genres=["Drama"],
        )
        for i in range(12)
    }
    lexical_rows.refresh()  # the statistics of the whole catalog, as a job would compute them
    return {"film": film, "sequel": sequel, **strangers}


def assert_postings_match_rows() -> None:
    """Every item's postings are its lexical row's weights, word by word, and no more."""
    rows = {
        item_id: dict(zip(vector.indices(), vector.values(), strict=True))
        for item_id, vector in LexicalVector.objects.values_list("item_id", "embedding")
    }
    postings: dict[int, dict[int, float]] = {}
    for item_id, term_id, weight in LexicalPosting.objects.values_list(
        "item_id", "term_id", "weight"
    ):
        postings.setdefault(item_id, {})[term_id] = weight
    assert set(postings) == set(rows)
    for item_id, weights in rows.items():
        assert postings[item_id] == pytest.approx(weights, rel=1e-6)


def _top(film: CatalogItem, blend: str, k: int = 10) -> list[str]:
    model = resolve_stored(MODEL)
    return [r.item.title for r in blended_neighbours(film, model, blend=blend, k=k)]


def test_the_hybrid_blend_finds_the_sequel_that_the_vector_blend_misses(
    catalog: dict[str, CatalogItem],
) -> None:
    film = catalog["film"]
    assert "The Glimmerstone Returns" not in _top(film, VECTOR)
    assert _top(film, LEXICAL)[0] == "The Glimmerstone Returns"
    assert "The Glimmerstone Returns" in _top(film, HYBRID)
    assert_postings_match_rows()


def test_each_neighbour_says_what_it_shares_with_the_item(
    catalog: dict[str, CatalogItem],
) -> None:
    film = catalog["film"]
    found = explain(film, blended_neighbours(film, resolve_stored(MODEL), blend=HYBRID, k=10))
    sequel = next(r for r in found if r.item.title == "The Glimmerstone Returns")
    assert sequel.why is not None
    assert sequel.why.collection == SAGA
    assert sequel.why.cast == ["Ada Brook"]
    assert sequel.why.director == ["Mira Stone"]
    assert "glimmerstone" in sequel.why.terms and len(sequel.why.terms) == 5
    for term in sequel.why.terms:
        assert term in item_text(film).lower() and term in item_text(sequel.item).lower()
    stranger = next(r for r in found if r.item.title.startswith("Stranger"))
    assert stranger.why is not None and not stranger.why.collection and not stranger.why.cast


def test_the_lexical_blend_ranks_as_tf_idf_alone_and_the_vector_blend_as_vectors_alone(
    catalog: dict[str, CatalogItem],
) -> None:
    film = catalog["film"]
    items = list(CatalogItem.objects.order_by("pk"))
    texts = [item_text(item) for item in items]
    matrix = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform(texts)
    cosines = (matrix @ matrix[items.index(film)].T).toarray().ravel()
    expected = {item.pk: cosines[i] for i, item in enumerate(items) if item.pk != film.pk}

    found = blended_neighbours(film, resolve_stored(MODEL), blend=LEXICAL, k=5)
    best = sorted(expected.values(), reverse=True)[:5]
    assert [r.lexical_score for r in found] == pytest.approx(best, abs=1e-5)
    for r in found:
        assert r.score == pytest.approx(expected[r.item.pk], abs=1e-5)
        assert r.vector_score is None

    model = resolve_stored(MODEL)
    assert model is not None
    stored = Embedding384.objects.get(item=film, model_key=MODEL).embedding
    alone = vector_neighbours(
        model.table, MODEL, stored, k=5, filters=Filters(exclude_item_id=film.pk)
    )
    found = blended_neighbours(film, model, blend=VECTOR, k=5)
    assert [r.item.pk for r in found] == [n.item.pk for n in alone]
    assert [r.score for r in found] == pytest.approx([n.score for n in alone])
    assert all(r.lexical_score is None for r in found)


def test_the_hybrid_score_is_the_vector_cosine_plus_the_weighted_lexical_cosine(
    catalog: dict[str, CatalogItem],
) -> None:
    film, model = catalog["film"], resolve_stored(MODEL)
    for weight in (0.0, 1.0, 2.5):
        found = blended_neighbours(film, model, blend=HYBRID, k=14, weight=weight)
        assert len(found) == 13
        for r in found:
            assert r.vector_score is not None and r.lexical_score is not None
            assert r.score == pytest.approx(r.vector_score + weight * r.lexical_score)
        scores = [r.score for r in found if r.score is not None]
        assert len(scores) == len(found) and scores == sorted(scores, reverse=True)
    # Weight 0 is the vector order.
    vector_order = _top(film, VECTOR, k=13)
    assert [
        r.item.title for r in blended_neighbours(film, model, blend=HYBRID, k=13, weight=0)
    ] == (vector_order)


def test_the_blends_honour_the_filters(catalog: dict[str, CatalogItem]) -> None:
    film, model = catalog["film"], resolve_stored(MODEL)
    for blend in (VECTOR, LEXICAL, HYBRID):
        found = blended_neighbours(film, model, blend=blend, k=10, filters=Filters(genre="Fantasy"))
        assert [r.item.title for r in found] == ["The Glimmerstone Returns"]


def test_the_blends_never_show_an_item_of_another_kind_or_outside_the_years(
    catalog: dict[str, CatalogItem],
) -> None:
    film, model = catalog["film"], resolve_stored(MODEL)
    item_at(
        Embedding384, MODEL, 30, kind="series", title="Glimmerstone: The Series", year=2001,
        overview="Orrin Vale and the Ash King fight over the Glimmerstone of Kethra.",
        genres=["Fantasy"],
    )  # fmt: skip
    assert "Glimmerstone: The Series" in _top(film, LEXICAL)  # no filter: among the closest
    for blend in (VECTOR, LEXICAL, HYBRID):
        found = blended_neighbours(film, model, blend=blend, filters=Filters(kind="movie"))
        assert found and all(r.item.kind == "movie" for r in found)
        found = blended_neighbours(film, model, blend=blend, filters=Filters(year_min=2001))
        assert [r.item.title for r in found] == ["Glimmerstone: The Series"]


def test_the_lexical_blend_ranks_exactly_when_a_word_is_shared_by_hundreds_of_items() -> None:
    """More items share the common words than a word's postings are read: the items that
    share the query's rare words still come first, in the exact TF-IDF order."""
    rare = ["lighthouse", "keeper", "gull", "tide", "beacon", "reef", "cove", "skerry", "kelp"]
    CatalogItem.objects.bulk_create(
        CatalogItem(
            tmdb_id=5000 + i, title=f"Harbour Tale {i}", year=1990, genres=["Drama"],
            # Every 25th tale shares more of the rare words: a strict order by overlap.
            overview="A fisherman mends his nets in the harbour. "
            + (" ".join(rare[: i // 25]) if i % 25 == 0 else ""),
        )
        for i in range(300)
    )  # fmt: skip
    lexical_rows.refresh()
    items = list(CatalogItem.objects.order_by("pk"))
    texts = [item_text(item) for item in items]
    matrix = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform(texts)
    film = next(item for item in items if item.title == "Harbour Tale 275")
    cosines = (matrix @ matrix[items.index(film)].T).toarray().ravel()
    expected = sorted(
        ((cosines[i], item.pk) for i, item in enumerate(items) if item.pk != film.pk),
        key=lambda pair: (-pair[0], pair[1]),
    )[:10]

    found = blended_neighbours(film, None, blend=LEXICAL, k=10)
    assert [r.item.pk for r in found] == [pk for _, pk in expected]
    assert [r.score for r in found] == pytest.approx([c for c, _ in expected], abs=1e-5)


def test_editing_an_overview_refreshes_its_lexical_row_and_marks_its_vectors_stale(
    catalog: dict[str, CatalogItem],
) -> None:
    sequel = catalog["sequel"]
    sequel.overview = "Orrin Vale sails to the frozen isle of Quillhaven."
    sequel.save()

    current = source_hash(item_text(sequel))
    row = LexicalVector.objects.get(item=sequel)
    assert row.source_hash == current
    quillhaven = LexicalTerm.objects.get(term="quillhaven")
    assert quillhaven.id in row.embedding.indices()
    assert Embedding384.objects.get(item=sequel, model_key=MODEL).source_hash != current
    assert_postings_match_rows()
    # The old words are gone from its postings, the new ones found.
    steals = LexicalTerm.objects.get(term="steals")
    assert not LexicalPosting.objects.filter(item=sequel, term_id=steals.id).exists()
    # A free text finds it by its new word, through the same postings.
    found = ranked(text_query("the isle of Quillhaven", None), None, blend=LEXICAL)
    assert [r.item.title for r in found] == ["The Glimmerstone Returns"]


def test_a_new_item_gets_its_lexical_row_when_saved_and_when_written_in_bulk(
    catalog: dict[str, CatalogItem],
) -> None:
    saved = CatalogItem.objects.create(
        kind="movie", tmdb_id=501, title="The Glimmerstone Rises", overview="Kethra burns."
    )
    assert LexicalVector.objects.get(item=saved).source_hash == saved.text_hash
    (bulk,) = CatalogItem.objects.bulk_create(
        [CatalogItem(kind="movie", tmdb_id=502, title="Quillhaven", overview="A frozen isle.")]
    )
    assert not LexicalVector.objects.filter(item=bulk).exists()  # no signal for bulk writes

    lexical_rows.refresh()  # what a job does at its start

    assert LexicalVector.objects.count() == 16
    assert LexicalVector.objects.get(item=bulk).source_hash == bulk.text_hash
    assert_postings_match_rows()
    film = catalog["film"]
    assert "The Glimmerstone Rises" in _top(film, LEXICAL, k=3)


def test_deleting_an_item_removes_its_lexical_row_and_its_vectors(
    catalog: dict[str, CatalogItem],
) -> None:
    sequel = catalog["sequel"]
    sequel_id = sequel.pk
    sequel.delete()
    assert not LexicalVector.objects.filter(item_id=sequel_id).exists()
    assert not LexicalPosting.objects.filter(item_id=sequel_id).exists()
    assert not Embedding384.objects.filter(item_id=sequel_id).exists()
    assert_postings_match_rows()
    assert "The Glimmerstone Returns" not in _top(catalog["film"], LEXICAL)


def test_the_corpus_statistics_are_recomputed_once_a_tenth_of_the_catalog_has_changed(
    catalog: dict[str, CatalogItem],
) -> None:
    indexes_before = _postings_indexes()
    corpus = LexicalCorpus.objects.get()
    assert (corpus.documents, corpus.changed) == (14, 0)
    # Bulk updates send no signal: the next refresh finds them by their hash.
    CatalogItem.objects.filter(title="Stranger 0").update(overview="A storm at sea.")
    report = lexical_rows.refresh()
    assert (report.written, report.rebuilt) == (1, False)
    assert LexicalCorpus.objects.get().changed == 1
    CatalogItem.objects.filter(title="Stranger 1").update(overview="A storm at sea, again.")
    report = lexical_rows.refresh()
    assert report.rebuilt  # 2 of 14 rows changed since: more than a tenth
    assert LexicalCorpus.objects.get().changed == 0
    storm = LexicalTerm.objects.get(term="storm")
    assert storm.documents == 2
    # Every posting was reweighted with the new statistics, as its row was, and the rebuilt
    # table has the indexes the migrations give it.
    assert_postings_match_rows()
    assert _postings_indexes() == indexes_before


def _postings_indexes() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename LIKE 'lexical_postings%'"
        )
        return dict(cursor.fetchall())


def test_a_rebuild_keeps_the_postings_of_items_saved_or_deleted_while_it_ran(
    catalog: dict[str, CatalogItem],
) -> None:
    """A rebuild writes its postings to a new table and swaps it in at the end: what others
    wrote to the old one meanwhile is carried over."""
    started = timezone.now()
    written = list(LexicalVector.objects.values_list("item_id", flat=True))
    with connection.cursor() as cursor:  # the rebuild's copy, made before the changes below
        cursor.execute(f"CREATE TABLE {lexical_rows.NEW_POSTINGS} (LIKE lexical_postings)")
        cursor.execute(f"INSERT INTO {lexical_rows.NEW_POSTINGS} SELECT * FROM lexical_postings")
    sequel = catalog["sequel"]
    sequel.overview = "Orrin Vale sails to the frozen isle of Quillhaven."
    sequel.save()
    catalog["Stranger 0"].delete()

    lexical_rows._swap_postings(started, written)

    assert_postings_match_rows()
    quillhaven = LexicalTerm.objects.get(term="quillhaven")
    assert LexicalPosting.objects.filter(item=sequel, term_id=quillhaven.id).exists()
    assert set(_postings_indexes()) == {"lexical_postings_pkey", "lexical_postings_impact"}


def test_an_import_followed_by_a_job_leaves_every_lexical_row_in_place(tmp_path: Path) -> None:
    path = tmp_path / "films.jsonl"
    path.write_text(
        '{"tmdb_id": 1, "title": "Lighthouse", "overview": "A keeper alone on a rock."}\n'
        '{"tmdb_id": 2, "title": "Lighthouse II", "overview": "The keeper returns to the rock."}\n'
        '{"tmdb_id": 3, "title": "Harbour", "overview": "Boats come and go."}\n'
    )
    call_command("import_catalog", str(path), stdout=StringIO())
    assert not LexicalVector.objects.exists()  # a bulk import sends no signals

    job = jobs.create_job("movie", LOCAL_MODEL, "stale")
    tasks.run_job(job.pk)

    assert LexicalVector.objects.count() == 3
    hashes = dict(LexicalVector.objects.values_list("item__title", "source_hash"))
    lighthouse = CatalogItem.objects.get(tmdb_id=1)
    assert hashes["Lighthouse"] == source_hash(item_text(lighthouse))
    weights = np.asarray(LexicalVector.objects.get(item=lighthouse).embedding.values())
    assert np.linalg.norm(weights) == pytest.approx(1.0)
    assert_postings_match_rows()
    sequel = blended_neighbours(lighthouse, None, blend=LEXICAL, k=1)
    assert [r.item.title for r in sequel] == ["Lighthouse II"]


def test_shared_words_leave_out_first_names_and_the_years_the_row_already_shows() -> None:
    """Inception and a 2010 film about dreams share a Tom and a Christopher only by first name,
    and their year: the reasons name the words of the story, and the people only where the same
    person is in both."""
    inception = item_at(
        Embedding384, MODEL, 0, title="Inception", year=2010, genres=["Science Fiction"],
        overview="A thief steals secrets from dreams and plants an idea in a mind.",
        cast=["Leonardo DiCaprio", "Tom Hardy"], director="Christopher Nolan",
    )  # fmt: skip
    dreamers = item_at(
        Embedding384, MODEL, 30, title="Dreamers", year=2010, genres=["Science Fiction"],
        overview="A thief walks into dreams to steal secrets, in 2010.",
        cast=["Tom Hanks", "Leonardo DiCaprio"], director="Christopher Guest",
    )  # fmt: skip
    lexical_rows.refresh()

    [found] = explain(inception, blended_neighbours(inception, resolve_stored(MODEL), k=1))

    assert found.item == dreamers and found.why is not None
    assert {"dreams", "secrets", "thief"} <= set(found.why.terms)
    assert not {"tom", "christopher", "leonardo", "dicaprio", "2010"} & set(found.why.terms)
    assert found.why.cast == ["Leonardo DiCaprio"]
    assert found.why.director == []
