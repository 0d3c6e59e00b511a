from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import CatalogItem
from tests.conftest import make_item

pytestmark = pytest.mark.django_db

HEADER = (
    "id,imdb_id,popularity,budget,revenue,original_title,cast,homepage,director,tagline,keywords,"
    "overview,runtime,genres,production_companies,release_date,vote_count,vote_average,release_year"
)
HEAT = (
    "949,tt0113277,3.0,60000000,187436818,Heat,Al Pacino|Robert De Niro,,Michael Mann,"
    'A Los Angeles Crime Saga,robbery|detective,"A group of professional bank robbers, '
    'and the detective on their trail.",170,Action|Crime|Drama,Regency,12/15/95,1200,7.7,1995'
)
ALIEN = "348,tt0078748,4.9,11000000,104931801,Alien,Sigourney Weaver,,Ridley Scott,,,A crew.,117,Horror,,5/25/79,2000,7.9,1979"


def _import(path: Path, **options: Any) -> str:
    out = StringIO()
    call_command("import_catalog", str(path), stdout=out, **options)
    return out.getvalue()


def _write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_tmdb_csv_imports_its_films_and_reports_bad_rows_with_their_line_numbers(
    tmp_path: Path,
) -> None:
    path = _write(
        tmp_path,
        "films.csv",
        [
            HEADER,
            HEAT,
            ",tt1,1.0,0,0,No Id,,,,,,,90,Drama,,1/1/00,1,5.0,2000",
            "abc,tt2,1.0,0,0,Bad Id,,,,,,,90,Drama,,1/1/00,1,5.0,2000",
            "77,tt3,1.0,0,0,,,,,,,,90,Drama,,1/1/00,1,5.0,2000",
            "78,tt4,1.0,0,0,Broken Year,,,,,,,90,Drama,,,1,5.0,19x9",
            ALIEN,
        ],
    )
    output = _import(path)
    assert "2 films and 0 series: 2 created, 0 updated, 0 unchanged, 4 rejected." in output
    assert "line 3: has no TMDB id" in output
    assert "line 4: TMDB id 'abc' is not a positive whole number" in output
    assert "line 5: has no title" in output
    assert "line 6: year '19x9' is not a year" in output
    heat = CatalogItem.objects.get(kind="movie", tmdb_id=949)
    assert (heat.title, heat.year, heat.director, heat.runtime) == (
        "Heat",
        1995,
        "Michael Mann",
        170,
    )
    assert heat.genres == ["Action", "Crime", "Drama"]
    assert heat.cast == ["Al Pacino", "Robert De Niro"]
    assert (
        heat.overview == "A group of professional bank robbers, and the detective on their trail."
    )
    assert sorted(CatalogItem.objects.values_list("title", flat=True)) == ["Alien", "Heat"]


def test_a_quoted_overview_spanning_lines_keeps_later_line_numbers_right(tmp_path: Path) -> None:
    multiline = HEAT.replace("professional bank robbers, ", "professional\nbank robbers,\n")
    path = _write(tmp_path, "films.csv", [HEADER, multiline, "5,tt5,1,0,0,,,,,,,,,,,,,,2000"])
    output = _import(path)
    assert "line 5: has no title" in output
    assert CatalogItem.objects.get(tmdb_id=949).overview.startswith("A group of professional\nbank")


def test_the_year_comes_from_the_release_date_when_there_is_no_release_year(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "films.csv",
        [
            "id,original_title,release_date",
            "1,Old One,6/9/66",
            "2,New One,6/9/15",
            "3,Iso One,2003-04-05",
            "4,No Date,",
            "5,Bad Date,someday",
        ],
    )
    output = _import(path)
    years = dict(CatalogItem.objects.values_list("title", "year"))
    assert years == {"Old One": 1966, "New One": 2015, "Iso One": 2003, "No Date": None}
    assert "line 6: release date 'someday' is not a date" in output


def test_importing_the_same_file_twice_changes_nothing_and_an_edited_overview_updates_one_item(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, "films.csv", [HEADER, HEAT, ALIEN])
    _import(path)
    first = {item.pk: item.updated_at for item in CatalogItem.objects.all()}

    assert "0 created, 0 updated, 2 unchanged, 0 rejected." in _import(path)
    assert {item.pk: item.updated_at for item in CatalogItem.objects.all()} == first

    _write(
        tmp_path,
        "films.csv",
        [HEADER, HEAT, ALIEN.replace("A crew.", "In space no one can hear you scream.")],
    )
    assert "0 created, 1 updated, 1 unchanged, 0 rejected." in _import(path)
    alien = CatalogItem.objects.get(tmdb_id=348)
    assert alien.overview == "In space no one can hear you scream."
    assert alien.updated_at > first[alien.pk]
    assert CatalogItem.objects.count() == 2


def test_a_repeated_id_in_one_file_keeps_the_last_row_and_counts_it_once(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "films.csv", ["id,original_title", "7,First Cut", "8,Other", "7,Final Cut"]
    )
    output = _import(path)
    assert "2 films and 0 series: 2 created" in output
    assert "replaced: line 2" in output
    assert CatalogItem.objects.get(tmdb_id=7).title == "Final Cut"


def test_kind_series_imports_rows_as_series_beside_a_film_with_the_same_id(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "shows.csv", ["id,original_title,release_year", "1399,Game of Thrones,2011"]
    )
    _write(tmp_path, "films.csv", ["id,original_title,release_year", "1399,A Film,1999"])
    output = _import(path, kind="series")
    _import(tmp_path / "films.csv")
    assert "0 films and 1 series: 1 created" in output
    assert CatalogItem.objects.get(kind="series", tmdb_id=1399).title == "Game of Thrones"
    assert CatalogItem.objects.get(kind="movie", tmdb_id=1399).title == "A Film"


def test_a_field_too_long_for_its_column_rejects_the_row_with_its_line(tmp_path: Path) -> None:
    long_title = "Long " * 70
    path = _write(
        tmp_path, "films.csv", ["id,original_title,tagline", f"1,{long_title},", "2,Short,"]
    )
    output = _import(path)
    assert "line 2: title is 349 characters long; at most 300 fit" in output
    assert list(CatalogItem.objects.values_list("title", flat=True)) == ["Short"]


def test_an_anthology_with_too_many_directors_keeps_the_names_that_fit(tmp_path: Path) -> None:
    directors = "|".join(f"Director Number {n}" for n in range(40))
    path = _write(tmp_path, "films.csv", ["id,original_title,director", f"1,Anthology,{directors}"])
    output = _import(path)
    director = CatalogItem.objects.get(tmdb_id=1).director
    assert "0 rejected" in output
    assert director.startswith("Director Number 0, Director Number 1, ")
    assert director.endswith(" others")
    assert len(director) <= 300


def test_names_garbled_by_a_double_utf8_decode_are_repaired(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "films.csv",
        ["id,original_title,cast", "1,AmÃ©lie,Audrey Tautou|Mathieu Kassovitz"],
    )
    _import(path)
    assert CatalogItem.objects.get(tmdb_id=1).title == "Amélie"


def _jsonl(tmp_path: Path, rows: list[Any]) -> Path:
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    return _write(tmp_path, "catalog.jsonl", lines)


def test_a_json_lines_file_imports_films_and_series_and_reports_bad_lines(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path,
        [
            {
                "kind": "movie",
                "tmdb_id": 603,
                "imdb_id": "tt0133093",
                "title": "The Matrix",
                "year": 1999,
                "genres": ["Action", "Science Fiction"],
                "keywords": "hacker|simulation",
                "cast": ["Keanu Reeves"],
                "director": "Lana Wachowski|Lilly Wachowski",
                "collection": "The Matrix Collection",
                "runtime": 136,
                "vote_average": 8.2,
            },
            {
                "kind": "series",
                "tmdb_id": 1396,
                "title": "Breaking Bad",
                "year": "2008",
                "creators": ["Vince Gilligan"],
                "seasons": 5,
                "genres": ["Drama", "Crime"],
            },
            '{"kind": "movie", "tmdb_id": 1, "title": "Broken',
            {"kind": "movie", "title": "No Id"},
            {"kind": "podcast", "tmdb_id": 2, "title": "Wrong Kind"},
            "",
            {"kind": "movie", "tmdb_id": 3, "title": "Bad Runtime", "runtime": "long"},
            [1, 2],
            {"tmdb_id": 4, "original_title": "Only Original"},
        ],
    )
    output = _import(path)
    assert "2 films and 1 series: 3 created, 0 updated, 0 unchanged, 5 rejected." in output
    assert "line 3: is not valid JSON" in output
    assert "line 4: has no TMDB id" in output
    assert "line 5: kind 'podcast' is neither movie nor series" in output
    assert "line 7: runtime 'long' is not a number" in output
    assert "line 8: is a JSON list, not an object" in output
    matrix = CatalogItem.objects.get(kind="movie", tmdb_id=603)
    assert matrix.keywords == ["hacker", "simulation"]
    assert matrix.director == "Lana Wachowski, Lilly Wachowski"
    assert (matrix.collection, matrix.runtime, matrix.vote_average) == (
        "The Matrix Collection",
        136,
        8.2,
    )
    breaking_bad = CatalogItem.objects.get(kind="series", tmdb_id=1396)
    assert (breaking_bad.director, breaking_bad.seasons, breaking_bad.year) == (
        "Vince Gilligan",
        5,
        2008,
    )
    assert CatalogItem.objects.get(tmdb_id=4).title == "Only Original"


def test_re_importing_json_lines_leaves_fields_the_file_omits_alone(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path, [{"tmdb_id": 10, "title": "Kept", "tagline": "Old tagline", "runtime": 99}]
    )
    _import(path)
    _jsonl(tmp_path, [{"tmdb_id": 10, "title": "Kept", "overview": "New overview."}])
    assert "0 created, 1 updated, 0 unchanged" in _import(path)
    item = CatalogItem.objects.get(tmdb_id=10)
    assert (item.tagline, item.runtime, item.overview) == ("Old tagline", 99, "New overview.")


def test_a_missing_file_is_a_command_error_that_names_it(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"nowhere\.csv: no such file"):
        _import(tmp_path / "nowhere.csv")


def test_an_unknown_file_format_is_a_command_error_that_lists_the_known_ones(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, "catalog.xlsx", ["id,title"])
    with pytest.raises(
        CommandError, match=r"unknown format '\.xlsx'; use \.csv, \.jsonl or \.ndjson"
    ):
        _import(path)
    assert CatalogItem.objects.count() == 0


COLLECTIONS = (
    "id,name_collection,revenue\n949,Heat Collection,1.0\n348,Alien Collection,2.0\n7,,3.0\n"
)


def test_collections_from_a_mapping_file_are_attached_to_the_films_it_names(tmp_path: Path) -> None:
    path = _write(tmp_path, "films.csv", [HEADER, HEAT, ALIEN])
    mapping = _write(tmp_path, "collections.csv", COLLECTIONS.splitlines())
    make_item(kind="series", tmdb_id=949, title="Heat, the series")
    output = _import(path, collections=str(mapping))
    assert "Collections: 2 item(s) given the collection" in output
    films = CatalogItem.objects.movies()
    assert dict(films.values_list("tmdb_id", "collection")) == {
        949: "Heat Collection",
        348: "Alien Collection",
    }
    # A series sharing a film's TMDB id is not in the film's collection.
    assert CatalogItem.objects.series().get(tmdb_id=949).collection == ""
    assert "Collections: 0 item(s)" in _import(path, collections=str(mapping))


def test_a_mapping_file_without_its_columns_stops_the_import_before_anything_is_written(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, "films.csv", [HEADER, HEAT])
    mapping = _write(tmp_path, "collections.csv", ["tmdb,collection", "949,Heat"])
    with pytest.raises(CommandError, match="needs the columns id and name_collection"):
        _import(path, collections=str(mapping))
    with pytest.raises(CommandError, match="cannot read"):
        _import(path, collections=str(tmp_path / "missing.csv"))
    assert not CatalogItem.objects.exists()


def test_the_demo_catalog_carries_its_collections(tmp_path: Path) -> None:
    demo = Path(__file__).resolve().parents[2] / "catalog" / "data" / "demo_catalog.jsonl"
    _import(demo)
    star_wars = CatalogItem.objects.filter(collection="Star Wars Collection")
    assert star_wars.count() >= 3
