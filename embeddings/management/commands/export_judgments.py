"""`python manage.py export_judgments FILE`: write every stored judgment as CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from embeddings.models.curation import stored_judgments
from embeddings.models.judgment_files import write_judgments
from reclio_admin.commands import DatabaseCommand


class Command(DatabaseCommand):
    help = (
        "Write every stored judgment as query_tmdb_id,relevant_tmdb_id,grade,kind, the CSV "
        "import_judgments reads."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="The CSV file to write (replaced if there).")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        try:
            written = write_judgments(path, stored_judgments())
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc}") from None
        self.stdout.write(f"{written:,} judgments written to {path}.")
