"""Do films of one franchise find each other? recall@10 and hit@10 per model.

    python manage.py eval_neighbours [--collections data/tmdb_collections.csv] [--model KEY] [--json]

The CSV maps TMDB ids to collections (`id,name_collection,…`); without it, the collections the
catalog's items record are used. For every catalog movie of a
collection with at least two members embedded by the model, its top 10 neighbours (the query
the similar page runs: same kind, the film itself left out) are compared with its siblings:
recall@10 is the share of siblings found, out of at most 10; hit@10 whether any is there.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.collections import CollectionsFileError, catalog_collections, read_collections
from catalog.models import CatalogItem
from embeddings.models import EMBEDDING_TABLES
from embeddings.similarity import Filters, neighbours, table_of

K = 10
SYNTHETIC_PREFIX = "bench:"


def stored_model_keys() -> list[str]:
    keys: set[str] = set()
    for table in EMBEDDING_TABLES.values():
        keys.update(table.objects.values_list("model_key", flat=True).distinct())
    return sorted(key for key in keys if not key.startswith(SYNTHETIC_PREFIX))


def evaluate(model_key: str, collection_of: dict[int, str]) -> dict[str, Any]:
    """recall@10 and hit@10 of one model over every film with an embedded sibling.

    1. Find the catalog's movies of each collection that have a vector for this model.
    2. Keep collections with two such members or more.
    3. For each member, run the neighbour query and count the siblings in its top 10.
    """
    table = table_of(model_key)
    if table is None:
        raise CommandError(f"no vectors are stored for {model_key}")
    movies = CatalogItem.objects.movies().filter(tmdb_id__in=collection_of)
    members: dict[str, set[int]] = defaultdict(set)
    for item_id, tmdb_id in movies.values_list("id", "tmdb_id"):
        members[collection_of[tmdb_id]].add(item_id)
    all_members = set().union(*members.values()) if members else set()
    vectors = dict(
        table.objects.for_model(model_key)
        .filter(item_id__in=all_members)
        .values_list("item_id", "embedding")
    )
    recall_sum, hits, queries = 0.0, 0, 0
    for group in members.values():
        embedded = {item_id for item_id in group if item_id in vectors}
        if len(embedded) < 2:
            continue
        for item_id in embedded:
            siblings = embedded - {item_id}
            found = neighbours(
                table,
                model_key,
                vectors[item_id],
                k=K,
                filters=Filters(kind="movie"),
                exclude_item_id=item_id,
            )
            shared = len(siblings & {n.item.pk for n in found})
            recall_sum += shared / min(len(siblings), K)
            hits += shared > 0
            queries += 1
    return {
        "queries": queries,
        "recall_at_10": round(recall_sum / queries, 4) if queries else 0.0,
        "hit_at_10": round(hits / queries, 4) if queries else 0.0,
    }


class Command(BaseCommand):
    help = "recall@10 and hit@10 of franchise siblings among each film's neighbours, per model."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--collections",
            type=Path,
            help="CSV with id,name_collection (default: the collections the catalog records)",
        )
        parser.add_argument(
            "--model", help="one model key (default: every model with stored vectors)"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            collection_of = (
                read_collections(options["collections"])
                if options["collections"]
                else catalog_collections()
            )
        except CollectionsFileError as exc:
            raise CommandError(str(exc)) from None
        keys = [options["model"]] if options["model"] else stored_model_keys()
        if not keys:
            raise CommandError("no vectors are stored yet: embed the catalog first")
        results = {key: evaluate(key, collection_of) for key in keys}
        if options["json"]:
            self.stdout.write(json.dumps(results))
            return
        self.stdout.write(f"{'model':<40} {'queries':>8} {'recall@10':>10} {'hit@10':>8}")
        for key, r in results.items():
            self.stdout.write(
                f"{key:<40} {r['queries']:>8} {r['recall_at_10']:>10.3f} {r['hit_at_10']:>8.3f}"
            )
