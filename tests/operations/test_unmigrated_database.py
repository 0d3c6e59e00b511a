"""A command run against a database that is not set up says what to run, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db.migrations.recorder import MigrationRecorder

from reclio_admin import commands

pytestmark = pytest.mark.django_db


def test_a_command_on_an_unmigrated_database_names_the_migrate_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(commands, "_migrated", False)
    # The newest migration of the catalog was never applied (rolled back after the test).
    newest = MigrationRecorder.Migration.objects.filter(app="catalog").order_by("-name").first()
    assert newest is not None
    newest.delete()

    with pytest.raises(CommandError, match=r"not set up \(1 migration\(s\) not applied\): run `"):
        call_command("eval_neighbours", "--json")
    with pytest.raises(CommandError, match=r"manage\.py migrate` first"):
        call_command("import_judgments", "/nonexistent.csv")


def test_on_a_set_up_database_the_command_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(commands, "_migrated", False)

    call_command("export_judgments", str(tmp_path / "judged.csv"))

    assert (tmp_path / "judged.csv").read_text().startswith("query_tmdb_id,relevant_tmdb_id")
    assert commands._migrated
