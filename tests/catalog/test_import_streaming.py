"""The importer streams the file in batches, and any row it cannot read or store is reported
with its line and skipped while every good row is kept."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from catalog.importer import import_catalog
from catalog.models import CatalogItem
from embeddings.text import text_hash

pytestmark = pytest.mark.django_db


def _good(tmdb_id: int, title: str | None = None) -> str:
    return json.dumps({"tmdb_id": tmdb_id, "title": title or f"Film {tmdb_id}"})


def _import(path: Path) -> str:
    out = StringIO()
    call_command("import_catalog", str(path), stdout=out)
    return out.getvalue()


def test_a_lone_surrogate_and_deep_nesting_reject_only_their_rows(tmp_path: Path) -> None:
    path = tmp_path / "films.jsonl"
    lines = [
        _good(1),
        '{"tmdb_id": 2, "title": "Broken \\ud800 title"}',
        _good(3),
        "[" * 100_000 + "]" * 100_000,
        '{"tmdb_id": 5, "title": "Deep", "keywords": ' + "[" * 100_000 + "]" * 100_000 + "}",
        _good(6),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    output = _import(path)
    assert "3 films and 0 series: 3 created, 0 updated, 0 unchanged, 3 rejected." in output
    assert "line 2: has text that is not valid Unicode ('\\ud800' at character 8)" in output
    assert "line 4: is nested too deeply to read" in output
    assert "line 5: is nested too deeply to read" in output
    assert sorted(CatalogItem.objects.values_list("tmdb_id", flat=True)) == [1, 3, 6]


def test_bytes_that_are_not_utf8_reject_their_row_in_json_lines_and_csv(tmp_path: Path) -> None:
    jsonl = tmp_path / "films.jsonl"
    jsonl.write_bytes(
        _good(1).encode() + b'\n{"tmdb_id": 2, "title": "Caf\xe9"}\n' + _good(3).encode() + b"\n"
    )
    output = _import(jsonl)
    assert "2 created, 0 updated, 0 unchanged, 1 rejected." in output
    assert "line 2: is not UTF-8 text (invalid continuation byte at byte 29 of the line)" in output
    table = tmp_path / "films.csv"
    table.write_bytes(b"id,original_title\n11,Heat\n12,Caf\xe9 Society\n13,Alien\n")
    output = _import(table)
    assert "2 created, 0 updated, 0 unchanged, 1 rejected." in output
    assert "line 3: has text that is not valid Unicode ('\\udce9' at character 4)" in output
    assert sorted(CatalogItem.objects.values_list("tmdb_id", flat=True)) == [1, 3, 11, 13]


def test_a_row_the_database_refuses_is_reported_and_its_batch_neighbours_kept(
    tmp_path: Path,
) -> None:
    with connection.cursor() as cursor:  # a rule the importer does not know about
        cursor.execute(
            "ALTER TABLE catalog_catalogitem ADD CONSTRAINT test_no_forbidden "
            "CHECK (title <> 'Forbidden')"
        )
    path = tmp_path / "films.jsonl"
    path.write_text("\n".join([_good(1), _good(2, "Forbidden"), _good(3)]) + "\n", encoding="utf-8")
    report = import_catalog(path)
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    assert [str(r) for r in report.rejected] == [
        'line 2: cannot be stored (new row for relation "catalog_catalogitem" violates check '
        'constraint "test_no_forbidden")'
    ]
    assert sorted(CatalogItem.objects.values_list("tmdb_id", flat=True)) == [1, 3]


def test_batches_count_a_key_repeated_across_them_once_and_keep_its_last_row(
    tmp_path: Path,
) -> None:
    path = tmp_path / "films.jsonl"
    lines = [_good(1, "First Cut"), _good(2), _good(3), _good(1, "Second Cut"), _good(4)]
    lines += [_good(1, "Final Cut")]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_catalog(path, batch_size=2)
    assert (report.created, report.updated, report.unchanged) == (4, 0, 0)
    assert report.superseded == [1, 4]
    final = CatalogItem.objects.get(tmdb_id=1)
    assert final.title == "Final Cut"
    assert final.text_hash == text_hash(final)
    again = import_catalog(path, batch_size=2)
    # A key repeated in later batches counts as its first row did: "First Cut" updated it.
    assert (again.created, again.updated, again.unchanged) == (0, 1, 3)
    assert CatalogItem.objects.get(tmdb_id=1).title == "Final Cut"
    assert CatalogItem.objects.count() == 4


def test_text_with_tabs_backslashes_quotes_and_braces_is_stored_exactly(tmp_path: Path) -> None:
    row = {
        "tmdb_id": 7,
        "title": 'The "Quoted" \\ Back\\slash',
        "overview": "Line one.\nLine two,\twith a tab.\r\nAnd {braces}, NULL and \\N.",
        "cast": ['Dwayne "The Rock" Johnson', "A, B", "{x}", "back\\slash", "NULL"],
        "keywords": [],
        "runtime": 101,
        "vote_average": 7.25,
    }
    path = tmp_path / "films.jsonl"
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    import_catalog(path)
    item = CatalogItem.objects.get(tmdb_id=7)
    assert (item.title, item.overview, item.cast, item.keywords) == (
        row["title"], row["overview"], row["cast"], [],
    )  # fmt: skip
    assert (item.runtime, item.vote_average, item.text_hash) == (101, 7.25, text_hash(item))
    row["overview"] = "Changed\tagain\\."
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    assert import_catalog(path).updated == 1
    item.refresh_from_db()
    assert (item.overview, item.cast, item.text_hash) == (
        row["overview"],
        row["cast"],
        text_hash(item),
    )
