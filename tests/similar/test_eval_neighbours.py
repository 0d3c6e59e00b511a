from __future__ import annotations

import json
import math
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from catalog.models import CatalogItem
from embeddings.models import Embedding384
from embeddings.neighbours.prior import DEFAULT_PRIOR_WEIGHT
from tests.conftest import make_item
from tests.similar.helpers import at_angle, embed

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_graphs")]

CSV = """id,name_collection,revenue
1,Alpha Collection,100.0
2,Alpha Collection,50.0
3,Alpha Collection,0.0
4,Beta Collection,0.0
5,Beta Collection,0.0
6,Lonely Collection,0.0
7,,10.0
"""


def _eval(path: Path, *args: str) -> dict:
    out = StringIO()
    call_command("eval_neighbours", "--collections", str(path), "--json", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def collections(tmp_path: Path) -> Path:
    """Alpha's three films sit together; Beta's two sit 90° apart with eleven strangers between."""
    path = tmp_path / "collections.csv"
    path.write_text(CSV)
    films = {
        tmdb_id: make_item(tmdb_id=tmdb_id, title=f"Film {tmdb_id}") for tmdb_id in range(1, 8)
    }
    for tmdb_id, degrees in ((1, 0), (2, 2), (3, 4), (4, 90), (5, 180), (6, 45), (7, 46)):
        embed(films[tmdb_id], Embedding384, "m", at_angle(384, degrees))
    for i in range(11):
        stranger = make_item(tmdb_id=100 + i, title=f"Stranger {i}")
        embed(stranger, Embedding384, "m", at_angle(384, 91 + i))
    # A series sharing a film's TMDB id is not part of the film's collection.
    embed(
        make_item(kind="series", tmdb_id=4, title="Beta, the series"),
        Embedding384,
        "m",
        at_angle(384, 89),
    )
    # A second model has embedded only two of Alpha's films.
    for tmdb_id in (1, 2):
        embed(films[tmdb_id], Embedding384, "n", at_angle(384, tmdb_id))
    return path


def test_recall_and_hit_at_10_count_the_siblings_in_each_films_top_10(collections: Path) -> None:
    results = _eval(collections, "--blend", "vector")
    # Alpha's three films find both siblings; Beta's two find none. Lonely has one film only.
    prior = {"prior_weight": DEFAULT_PRIOR_WEIGHT}
    assert results["m"] == {"vector": {"queries": 5, "recall_at_10": 0.6, "hit_at_10": 0.6} | prior}
    assert results["n"] == {"vector": {"queries": 2, "recall_at_10": 1.0, "hit_at_10": 1.0} | prior}


def test_the_prior_weight_lifts_the_film_people_voted_on_and_is_named_in_the_results(
    collections: Path,
) -> None:
    """Film 4 (at 90°) is the only film anyone voted on, and loved: at weight 1 its prior (1.0
    where the others' is 0.45) lifts it above the strangers (cosines 0.02 to 0.19) among film
    5's (180°) neighbours, so Beta's film 5 finds its sibling; film 4's own neighbours, strangers
    1° to 11° away, stay ahead of film 5."""
    CatalogItem.objects.filter(tmdb_id=4, kind="movie").update(vote_count=10**6, vote_average=10.0)

    off = _eval(collections, "--blend", "vector", "--prior-weight", "0")
    on = _eval(collections, "--blend", "vector", "--prior-weight", "1")

    assert off["m"]["vector"] == {
        "queries": 5, "recall_at_10": 0.6, "hit_at_10": 0.6, "prior_weight": 0.0
    }  # fmt: skip
    assert on["m"]["vector"] == {
        "queries": 5, "recall_at_10": 0.8, "hit_at_10": 0.8, "prior_weight": 1.0
    }  # fmt: skip
    for bad in ("-0.1", "1.5", "heavy"):
        with pytest.raises(CommandError, match="--prior-weight"):
            _eval(collections, "--prior-weight", bad)


def test_one_model_can_be_asked_for_and_the_table_reads_for_people(collections: Path) -> None:
    results = _eval(collections, "--model", "n")
    assert list(results) == ["n"]
    assert list(results["n"]) == ["vector", "lexical", "hybrid"]
    out = StringIO()
    call_command("eval_neighbours", "--collections", str(collections), stdout=out)
    assert "recall@10" in out.getvalue()
    assert (
        "m                                        vector          5      0.600    0.600"
        in out.getvalue()
    )


def test_a_missing_file_or_no_vectors_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read"):
        _eval(tmp_path / "nope.csv")
    path = tmp_path / "c.csv"
    path.write_text(CSV)
    with pytest.raises(CommandError, match="no vectors are stored yet"):
        _eval(path)


JUDGMENTS = """query_tmdb_id,relevant_tmdb_id,grade
1,6,2
1,4,1
1,5,2
6,7,2
6,3,0
7,999,2
"""


def test_judged_recall_and_ndcg_are_added_when_a_judgments_file_is_given(
    collections: Path, tmp_path: Path
) -> None:
    """Film 1 (at 0°) lists 2, 3, 6, 7, 4, then strangers: of its relevant films 6 (great) is
    third, 4 (acceptable) fifth, 5 (great, at 180°) missing. Film 6 (45°) finds 7 first. Film 7's
    only judged film is not in the catalog, so it is not asked."""
    judgments = tmp_path / "judged.csv"
    judgments.write_text(JUDGMENTS)

    results = _eval(collections, "--blend", "vector", "--judgments", str(judgments))

    dcg = 2 / math.log2(4) + 1 / math.log2(6)
    ideal = 2 + 2 / math.log2(3) + 1 / math.log2(4)
    assert results["m"]["vector"] == {
        "queries": 5, "recall_at_10": 0.6, "hit_at_10": 0.6,
        "prior_weight": DEFAULT_PRIOR_WEIGHT, "judged_queries": 2,
        "judged_recall_at_10": round((2 / 3 + 1) / 2, 4),
        "judged_ndcg_at_10": round((dcg / ideal + 1) / 2, 4),
    }  # fmt: skip
    # "n" has embedded films 1 and 2 only: none of film 1's relevant films counts.
    assert results["n"]["vector"]["judged_queries"] == 0
    out = StringIO()
    call_command(
        "eval_neighbours", "--collections", str(collections), "--judgments", str(judgments),
        "--model", "m", "--blend", "vector", stdout=out,
    )  # fmt: skip
    assert "j.recall  nDCG@10" in out.getvalue()
    assert "      2     0.833    0.684" in out.getvalue()


def test_without_a_file_or_stored_judgments_the_blends_carry_no_judged_numbers(
    collections: Path,
) -> None:
    assert "judged_queries" not in _eval(collections, "--blend", "vector")["m"]["vector"]
    out = StringIO()
    call_command("eval_neighbours", "--collections", str(collections), stdout=out)
    assert out.getvalue().startswith("Judgments: none stored (franchise scores only)\n")
    assert "j.recall" not in out.getvalue()


def test_without_a_file_the_judgments_curators_stored_are_scored_and_named_as_the_source(
    collections: Path, tmp_path: Path
) -> None:
    """The same pairs as the file, stored: the same judged numbers."""
    judgments = tmp_path / "judged.csv"
    judgments.write_text(JUDGMENTS)
    call_command("import_judgments", str(judgments), stdout=StringIO())

    stored = _eval(collections, "--blend", "vector")

    assert stored == _eval(collections, "--blend", "vector", "--judgments", str(judgments))
    assert stored["m"]["vector"]["judged_queries"] == 2
    out = StringIO()
    call_command(
        "eval_neighbours", "--collections", str(collections), "--model", "m", "--blend", "vector",
        stdout=out,
    )  # fmt: skip
    assert out.getvalue().startswith(
        "Judgments: the 6 stored (judged on the similar page or imported)\n"
    )
    assert "      2     0.833    0.684" in out.getvalue()
    out = StringIO()
    call_command(
        "eval_neighbours", "--collections", str(collections), "--judgments", str(judgments),
        "--model", "m", stdout=out,
    )  # fmt: skip
    assert out.getvalue().startswith(f"Judgments: 6 from {judgments} (not stored)\n")


def test_a_judgments_file_with_bad_lines_is_refused_with_the_lines_named(
    collections: Path, tmp_path: Path
) -> None:
    judgments = tmp_path / "judged.csv"
    judgments.write_text("query_tmdb_id,relevant_tmdb_id,grade\n1,6,2\n1,4,5\n1,x,1\n")
    with pytest.raises(CommandError) as refused:
        _eval(collections, "--judgments", str(judgments))
    assert str(refused.value) == (
        f"{judgments} has 2 bad line(s): line 3: grade must be 0, 1 or 2, got 5; "
        "line 4: relevant_tmdb_id must be a whole number, got 'x'"
    )
    judgments.write_text("query,relevant\n1,6\n")
    with pytest.raises(CommandError, match="lacks the columns query_tmdb_id, relevant_tmdb_id"):
        _eval(collections, "--judgments", str(judgments))
