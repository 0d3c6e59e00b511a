"""`python manage.py import_catalog PATH`: load a TMDb CSV or JSON Lines file into the catalog."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from catalog.importer import CatalogFileError, import_catalog


class Command(BaseCommand):
    help = (
        "Create or update catalog items from a TMDb-style CSV or a JSON Lines file (.jsonl, .ndjson). "
        "Items are matched on kind and TMDB id, so importing the same file again changes nothing."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", help="The .csv, .jsonl or .ndjson file to import.")
        parser.add_argument(
            "--kind",
            choices=["movie", "series"],
            default="movie",
            help="Kind of the rows that do not say (default: movie).",
        )
        parser.add_argument(
            "--no-progress",
            dest="progress",
            action="store_false",
            help="Do not draw a progress bar (it is drawn only on a terminal anyway).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        progress = options.get("progress", True) and self.stdout.isatty()
        try:
            report = import_catalog(options["path"], kind=options["kind"], progress=progress)
        except CatalogFileError as exc:
            raise CommandError(str(exc)) from None
        for line in report.summary():
            self.stdout.write(line)
