"""`python manage.py import_judgments FILE`: store a CSV of curators' judgments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from catalog.models import CatalogItem
from embeddings.models.curation import store_judgments
from embeddings.models.judgment_files import Judged, JudgmentsFileError, parse_judgments
from embeddings.switching.audit import system_user
from reclio_admin.commands import DatabaseCommand

# Bad lines listed before "and N more".
SHOWN_BAD_LINES = 50


def not_in_catalog(judgments: list[Judged]) -> int:
    """The pairs that name a title the catalog does not hold (yet)."""
    tmdb_ids = {tmdb_id for j in judgments for tmdb_id in (j.query, j.relevant)}
    held = set(CatalogItem.objects.filter(tmdb_id__in=tmdb_ids).values_list("kind", "tmdb_id"))
    return sum(
        1 for j in judgments if (j.kind, j.query) not in held or (j.kind, j.relevant) not in held
    )


class Command(DatabaseCommand):
    help = (
        "Store graded pairs from a CSV with query_tmdb_id,relevant_tmdb_id,grade[,kind] (grades: "
        "2 good, 1 acceptable, 0 bad; kind movie or series, movie when absent). A pair stored "
        "already takes the file's grade; bad lines are named and skipped, good ones kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="The CSV file to import.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        try:
            rows, bad = parse_judgments(path)
        except JudgmentsFileError as exc:
            raise CommandError(str(exc)) from None
        stored = store_judgments(rows, system_user(), path.name) if rows else 0
        self.stdout.write(f"{stored:,} judgments stored from {path}, {len(bad):,} bad lines.")
        if missing := not_in_catalog(rows):
            self.stdout.write(
                f"{missing:,} of them name a title the catalog does not hold: kept, they count "
                "once it is imported."
            )
        for line in bad[:SHOWN_BAD_LINES]:
            self.stdout.write(f"Skipped {line}")
        if len(bad) > SHOWN_BAD_LINES:
            self.stdout.write(f"… and {len(bad) - SHOWN_BAD_LINES:,} more bad lines.")
