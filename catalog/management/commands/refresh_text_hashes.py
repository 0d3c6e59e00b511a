"""`python manage.py refresh_text_hashes`: hash every item's text again into `text_hash`."""

from __future__ import annotations

from typing import Any

from catalog.models import CatalogItem
from reclio_admin.commands import DatabaseCommand


class Command(DatabaseCommand):
    help = (
        "Hash every catalog item's text again into text_hash (what stale checks compare with). "
        "Saves, imports and bulk writes keep it current; run this after changing how item texts "
        "are built, or after writing the catalog table with raw SQL."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        changed = CatalogItem.objects.all().refresh_text_hashes()
        self.stdout.write(f"{changed:,} item hash(es) changed.")
