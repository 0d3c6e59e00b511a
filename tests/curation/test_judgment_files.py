"""import_judgments and export_judgments: a team's golden set in and out, bad lines named."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from embeddings.models import Judgment
from embeddings.models.curation import judge
from tests.conftest import make_item

pytestmark = pytest.mark.django_db


def _import(path: Path) -> str:
    out = StringIO()
    call_command("import_judgments", str(path), stdout=out)
    return out.getvalue()


def _stored() -> set[tuple[str, int, int, int]]:
    return set(Judgment.objects.values_list("kind", "query_tmdb_id", "neighbour_tmdb_id", "grade"))


def test_an_import_keeps_the_good_rows_and_names_each_bad_line(tmp_path: Path) -> None:
    make_item(title="Memento", tmdb_id=77)
    make_item(title="Mulholland Drive", tmdb_id=1018)
    path = tmp_path / "golden.csv"
    path.write_text(
        "query_tmdb_id,relevant_tmdb_id,grade,kind\n"
        "77,1018,2,\n"
        "77,11324,7,movie\n"
        "77,77,2,movie\n"
        "1396,1398,1,series\n"
        "77,,1,movie\n"
    )

    out = _import(path)

    assert _stored() == {("movie", 77, 1018, 2), ("series", 1396, 1398, 1)}
    assert "2 judgments stored from" in out and "3 bad lines" in out
    assert "Skipped line 3: grade must be 0, 1 or 2, got 7" in out
    assert "Skipped line 4: a title cannot be judged against itself (77)" in out
    assert "Skipped line 6: relevant_tmdb_id is empty" in out
    # The series pair names titles this catalog does not hold; it is kept all the same.
    assert "1 of them name a title the catalog does not hold" in out
    [entry] = LogEntry.objects.all()
    assert entry.change_message == "Imported 2 judgments from golden.csv"
    assert entry.user.username == "reclio-system"


def test_importing_again_updates_each_pair_rather_than_adding_one(
    tmp_path: Path, curator_user: User
) -> None:
    memento, drive = make_item(tmdb_id=77), make_item(tmdb_id=1018)
    judge(memento, drive, 0, curator_user)
    path = tmp_path / "golden.csv"
    path.write_text("query_tmdb_id,relevant_tmdb_id,grade\n77,1018,1\n77,1018,2\n")

    _import(path)
    _import(path)

    [row] = Judgment.objects.all()
    assert (row.grade, row.set_by) == (2, None)  # the file's later line; no one clicked it


def test_export_then_import_gives_back_the_same_judgments(
    tmp_path: Path, curator_user: User
) -> None:
    memento, drive, insomnia = (make_item(tmdb_id=i) for i in (77, 1018, 320))
    judge(memento, drive, 2, curator_user)
    judge(memento, insomnia, 0, curator_user)
    golden = tmp_path / "golden.csv"
    golden.write_text("query_tmdb_id,relevant_tmdb_id,grade,kind\n1396,1398,1,series\n")
    _import(golden)
    before = _stored()

    exported = tmp_path / "exported.csv"
    out = StringIO()
    call_command("export_judgments", str(exported), stdout=out)
    assert out.getvalue().startswith("3 judgments written to")
    Judgment.objects.all().delete()
    _import(exported)

    assert _stored() == before
    again = tmp_path / "again.csv"
    call_command("export_judgments", str(again), stdout=StringIO())
    assert again.read_text() == exported.read_text()
    assert exported.read_text().splitlines()[0] == "query_tmdb_id,relevant_tmdb_id,grade,kind"


def test_a_file_that_cannot_be_read_as_judgments_stops_the_import_and_stores_nothing(
    tmp_path: Path,
) -> None:
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("id,name_collection\n77,Memento\n")

    with pytest.raises(CommandError, match="lacks the columns"):
        _import(wrong)
    with pytest.raises(CommandError, match="cannot read"):
        _import(tmp_path / "missing.csv")
    with pytest.raises(CommandError, match="cannot write"):
        call_command("export_judgments", str(tmp_path / "no" / "such" / "dir.csv"))
    assert not Judgment.objects.exists()
