from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from embeddings.models import Embedding384
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
    assert results["m"] == {"vector": {"queries": 5, "recall_at_10": 0.6, "hit_at_10": 0.6}}
    assert results["n"] == {"vector": {"queries": 2, "recall_at_10": 1.0, "hit_at_10": 1.0}}


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
