"""Franchise collections (TMDb's `belongs_to_collection`) read from an `id,name_collection` CSV.

The public TMDb exports keep collections in a file of their own (`tmdb_collections.csv`): one
row per TMDB id, the collection's name blank for a film that belongs to none.
"""

from __future__ import annotations

import csv
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from catalog.models import CatalogItem

COLUMNS = {"id", "name_collection"}
BATCH_SIZE = 1000
MAX_LENGTH = CatalogItem._meta.get_field("collection").max_length or 200


class CollectionsFileError(Exception):
    """The mapping file cannot be read or lacks its columns."""


def read_collections(path: str | Path) -> dict[int, str]:
    """TMDB id → collection name, for the rows that belong to a collection."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not set(reader.fieldnames) >= COLUMNS:
                raise CollectionsFileError(f"{path} needs the columns id and name_collection")
            found: dict[int, str] = {}
            for row in reader:
                tmdb_id, name = (row["id"] or "").strip(), (row["name_collection"] or "").strip()
                if not (tmdb_id.isdigit() and name):
                    continue
                if len(name) > MAX_LENGTH:
                    raise CollectionsFileError(
                        f"{path}, line {reader.line_num}: the collection name is {len(name)} "
                        f"characters long; at most {MAX_LENGTH} fit"
                    )
                found[int(tmdb_id)] = name
            return found
    except OSError as exc:
        raise CollectionsFileError(f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CollectionsFileError(f"{path}: not a readable CSV file ({exc})") from None


def attach_collections(collection_of: dict[int, str], *, kind: str = "movie") -> int:
    """Set the collection of every item of this kind the mapping names; the number changed.

    TMDB ids are unique per kind only (a film and a series may share one), and TMDb's
    collections are film collections, so one kind is matched at a time.
    """
    items = CatalogItem.objects.filter(kind=kind, tmdb_id__in=collection_of).only(
        "id", "tmdb_id", "collection"
    )
    changed = []
    now = timezone.now()
    for item in items.iterator(chunk_size=BATCH_SIZE):
        name = collection_of[item.tmdb_id]
        if item.collection != name:
            item.collection, item.updated_at = name, now
            changed.append(item)
    with transaction.atomic():
        CatalogItem.objects.bulk_update(
            changed, ["collection", "updated_at"], batch_size=BATCH_SIZE
        )
    return len(changed)


def catalog_collections(*, kind: str = "movie") -> dict[int, str]:
    """TMDB id → collection name, as the catalog itself records them."""
    items = CatalogItem.objects.filter(kind=kind).exclude(collection="")
    return dict(items.values_list("tmdb_id", "collection"))
