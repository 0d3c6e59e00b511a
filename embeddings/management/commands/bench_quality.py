"""How long the quality panel takes to measure each stored model on the catalog as it is.

    python manage.py bench_quality [--model KEY] [--json]

Runs the panel's own code (`embeddings.quality`) part by part, in this process, and prints the
seconds of each blend's franchise recall and of the index recall, with the numbers measured.
Nothing is stored.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.collections import catalog_collections
from embeddings import quality


def bench(model_key: str) -> dict[str, Any]:
    started = time.perf_counter()
    truth = catalog_collections()
    result: dict[str, Any] = {}
    try:
        for blend in quality.BLENDS:
            at = time.perf_counter()
            score = quality.franchise_score(model_key, truth, blend=blend)
            result[blend] = score.as_dict() | {"seconds": round(time.perf_counter() - at, 2)}
        at = time.perf_counter()
        asked, recall = quality.index_recall(model_key)
    except quality.NoVectors as exc:
        raise CommandError(str(exc)) from None
    result["index"] = {
        "queries": asked,
        "recall_at_10": round(recall, 4),
        "seconds": round(time.perf_counter() - at, 2),
    }
    result["total_seconds"] = round(time.perf_counter() - started, 2)
    return result


class Command(BaseCommand):
    help = "Seconds the quality panel takes per stored model, part by part."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", help="one model key (default: every stored model)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        keys = [options["model"]] if options["model"] else quality.stored_model_keys()
        if not keys:
            raise CommandError("no vectors are stored yet: embed the catalog first")
        results = {key: bench(key) for key in keys}
        if options["json"]:
            self.stdout.write(json.dumps(results))
            return
        for key, parts in results.items():
            self.stdout.write(f"{key}: {parts['total_seconds']:.1f} s in all")
            for name, part in parts.items():
                if isinstance(part, dict):
                    self.stdout.write(
                        f"  {name:<8} {part['queries']:>6} queries  recall@10 "
                        f"{part['recall_at_10']:.3f}  {part['seconds']:>6.1f} s"
                    )
