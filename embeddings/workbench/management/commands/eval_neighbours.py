"""Do films of one franchise find each other? recall@10 and hit@10 per model and blend.

    python manage.py eval_neighbours [--collections data/tmdb_collections.csv] [--model KEY]
                                     [--blend vector|lexical|hybrid] [--json]

The CSV maps TMDB ids to collections (`id,name_collection,…`); without it, the collections the
catalog's items record are used. For every catalog movie of a
collection with at least two members embedded by the model, its top 10 neighbours under each
blend (the query the similar page runs: same kind, the film itself left out) are compared with its siblings:
recall@10 is the share of siblings found, out of at most 10; hit@10 whether any is there.
On a catalog with more than 2,000 such films, a fixed sample of 2,000 is asked. The code is
`embeddings.quality`, the same the quality panel of the settings and storage pages runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.collections import CollectionsFileError, catalog_collections, read_collections
from embeddings import quality
from embeddings.neighbours.blends import BLENDS


def evaluate(model_key: str, collection_of: dict[int, str], blend: str) -> dict[str, Any]:
    """recall@10 and hit@10 of one model and blend: the measurement the quality panel keeps."""
    try:
        return quality.franchise_score(model_key, collection_of, blend=blend).as_dict()
    except quality.NoVectors as exc:
        raise CommandError(str(exc)) from None


class Command(BaseCommand):
    help = "recall@10 and hit@10 of franchise siblings among each film's neighbours, per model and blend."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--collections",
            type=Path,
            help="CSV with id,name_collection (default: the collections the catalog records)",
        )
        parser.add_argument(
            "--model", help="one model key (default: every model with stored vectors)"
        )
        parser.add_argument(
            "--blend", choices=BLENDS, help="one blend (default: vector, lexical and hybrid)"
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
        keys = [options["model"]] if options["model"] else quality.stored_model_keys()
        if not keys:
            raise CommandError("no vectors are stored yet: embed the catalog first")
        blends = [options["blend"]] if options["blend"] else list(BLENDS)
        results = {
            key: {blend: evaluate(key, collection_of, blend) for blend in blends} for key in keys
        }
        if options["json"]:
            self.stdout.write(json.dumps(results))
            return
        self.stdout.write(
            f"{'model':<40} {'blend':<8} {'queries':>8} {'recall@10':>10} {'hit@10':>8}"
        )
        for key, by_blend in results.items():
            for blend, r in by_blend.items():
                self.stdout.write(
                    f"{key:<40} {blend:<8} {r['queries']:>8} {r['recall_at_10']:>10.3f} "
                    f"{r['hit_at_10']:>8.3f}"
                )
