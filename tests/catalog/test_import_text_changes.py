"""An import says which existing items it gave a new embedding text (their text hash changed),
so hand-written synopses it overwrites do not go unnoticed."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from catalog.importer import import_catalog
from catalog.models import CatalogItem
from tests.conftest import make_item

pytestmark = pytest.mark.django_db


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _import(path: Path) -> str:
    out = StringIO()
    call_command("import_catalog", str(path), stdout=out)
    return out.getvalue()


def test_an_import_that_rewrites_five_synopses_names_exactly_those_five(tmp_path: Path) -> None:
    films = [
        make_item(tmdb_id=n, title=f"Film {n}", overview=f"Written by hand {n}.", popularity=1.0)
        for n in range(1, 9)
    ]
    rows = [{"tmdb_id": f.tmdb_id, "title": f.title, "overview": f.overview} for f in films]
    for row in rows[:5]:
        row["overview"] = "From TMDb."
    for row in rows[5:7]:
        row["popularity"] = 9.5  # not part of the embedding text
    rows += [{"tmdb_id": 100, "title": "New One"}, {"tmdb_id": 101, "title": "New Two"}]
    path = _jsonl(tmp_path / "films.jsonl", rows)

    output = _import(path)

    assert "2 created, 7 updated, 1 unchanged, 0 rejected." in output
    assert "\n5 existing items changed their embedding text:\n" in output
    for film in films[:5]:
        assert f"\n  Film {film.tmdb_id} (id {film.pk})\n" in output
    for film in films[5:]:
        assert f"Film {film.tmdb_id} (id" not in output
    assert "New One" not in output
    assert "and 0 more" not in output
    assert set(CatalogItem.objects.filter(overview="From TMDb.").values_list("pk", flat=True)) == {
        film.pk for film in films[:5]
    }
    again = _import(path)
    assert "0 updated, 10 unchanged" in again
    assert "embedding text" not in again


def test_more_than_twenty_changed_texts_name_twenty_and_count_the_rest(tmp_path: Path) -> None:
    films = [make_item(tmdb_id=n, title=f"Film {n}") for n in range(1, 24)]
    path = _jsonl(
        tmp_path / "films.jsonl",
        [{"tmdb_id": f.tmdb_id, "title": f.title, "overview": "Rewritten."} for f in films],
    )

    output = _import(path)

    assert "23 existing items changed their embedding text:" in output
    named = [line for line in output.splitlines() if line.startswith("  Film ")]
    assert named == [f"  Film {f.tmdb_id} (id {f.pk})" for f in films[:20]]
    assert "  … and 3 more." in output


def test_an_item_changed_again_further_down_the_file_is_named_once_and_a_new_one_not_at_all(
    tmp_path: Path,
) -> None:
    old = make_item(tmdb_id=1, title="Old Title", overview="By hand.")
    path = _jsonl(
        tmp_path / "films.jsonl",
        [
            {"tmdb_id": 1, "title": "Old Title", "overview": "By hand."},  # no change yet
            {"tmdb_id": 2, "title": "Brand New"},
            {"tmdb_id": 1, "title": "Old Title", "overview": "From TMDb."},
            {"tmdb_id": 2, "title": "Brand New", "overview": "Its synopsis."},
            {"tmdb_id": 1, "title": "Old Title", "overview": "From TMDb, edited."},
        ],
    )

    report = import_catalog(path, batch_size=1)

    assert (report.created, report.updated, report.unchanged) == (1, 0, 1)
    assert report.text_changed == 1
    assert [str(change) for change in report.text_changes] == [f"Old Title (id {old.pk})"]
    assert CatalogItem.objects.get(pk=old.pk).overview == "From TMDb, edited."
