"""How long the quality panel takes to measure each stored model on the catalog as it is.

    python manage.py bench_quality [--model KEY] [--compare OTHER_KEY [--blend B]] [--json]

Runs the panel's own code (`embeddings.quality`) part by part, in this process, and prints the
seconds of each blend's franchise recall and of the index recall, with the numbers measured.
With `--compare`, also the disagreement list of the model against another one, computed and
stored as the background task does, then rolled back. Nothing is kept.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import transaction

from catalog.collections import catalog_collections
from embeddings import quality
from embeddings.models import DisagreementRun
from reclio_admin.commands import DatabaseCommand


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


def bench_disagreements(left_key: str, right_key: str, blend: str) -> dict[str, Any]:
    """The whole-catalog comparison of two models, as the task runs it, then rolled back."""
    with transaction.atomic():
        run = quality.disagreements_soon(left_key, right_key, blend)
        started = time.perf_counter()
        done = quality.compute_disagreements(run.pk)
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    if done is None or done.status != DisagreementRun.Status.DONE:
        raise CommandError(f"the comparison failed: {done.error if done else 'not run'}")
    return {"left": left_key, "right": right_key, "blend": blend, "items": done.items,
            "seconds": round(seconds, 2)}  # fmt: skip


class Command(DatabaseCommand):
    help = "Seconds the quality panel takes per stored model, part by part."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", help="one model key (default: every stored model)")
        parser.add_argument(
            "--compare", metavar="OTHER_KEY", help="also time the disagreement list against it"
        )
        parser.add_argument(
            "--blend", choices=quality.BLENDS, default="vector",
            help="the disagreement list's blend (default: vector)",
        )  # fmt: skip
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        keys = [options["model"]] if options["model"] else quality.stored_model_keys()
        if not keys:
            raise CommandError("no vectors are stored yet: embed the catalog first")
        results: dict[str, Any] = {key: bench(key) for key in keys}
        if options["compare"]:
            results["disagreements"] = bench_disagreements(
                keys[0], options["compare"], options["blend"]
            )
        if options["json"]:
            self.stdout.write(json.dumps(results))
            return
        found = results.pop("disagreements", None)
        for key, parts in results.items():
            self.stdout.write(f"{key}: {parts['total_seconds']:.1f} s in all")
            for name, part in parts.items():
                if isinstance(part, dict):
                    self.stdout.write(
                        f"  {name:<8} {part['queries']:>6} queries  recall@10 "
                        f"{part['recall_at_10']:.3f}  {part['seconds']:>6.1f} s"
                    )
        if found:
            self.stdout.write(
                f"disagreement list, {found['left']} vs {found['right']} ({found['blend']}): "
                f"{found['items']:,} items in {found['seconds']:.1f} s"
            )
