"""`python manage.py import_catalog PATH`: load a TMDb CSV or JSON Lines file into the catalog."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from catalog.collections import CollectionsFileError, attach_collections, read_collections
from catalog.importer import CatalogFileError, import_catalog
from reclio_admin.commands import DatabaseCommand


class Command(DatabaseCommand):
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
            "--collections",
            metavar="MAPPING.csv",
            help="An id,name_collection CSV (such as tmdb_collections.csv) whose collections are "
            "attached to the catalog's items of this kind after the import.",
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
            # Read the mapping first: a bad one stops the command before anything is written.
            collection_of = (
                read_collections(options["collections"]) if options.get("collections") else None
            )
            report = import_catalog(options["path"], kind=options["kind"], progress=progress)
        except (CatalogFileError, CollectionsFileError) as exc:
            raise CommandError(str(exc)) from None
        for line in report.summary():
            self.stdout.write(line)
        if collection_of is not None:
            changed = attach_collections(collection_of, kind=options["kind"])
            self.stdout.write(
                f"Collections: {changed:,} item(s) given the collection {options['collections']} names."
            )
