"""Do films of one franchise find each other, and the films curators judged alike? recall@10 and
hit@10 of franchise siblings, and judged recall@10 and nDCG@10, per model and blend.

    python manage.py eval_neighbours [--collections data/tmdb_collections.csv] [--model KEY]
                                     [--blend vector|lexical|hybrid] [--judgments FILE.csv]
                                     [--prior-weight W] [--json]

The CSV maps TMDB ids to collections (`id,name_collection,…`); without it, the collections the
catalog's items record are used. For every catalog movie of a collection with at least two
members embedded by the model, its top 10 neighbours under each blend (the query the similar
page runs: same kind, the film itself left out) are compared with its siblings: recall@10 is
the share of siblings found, out of at most 10; hit@10 whether any is there. On a catalog with
more than 2,000 such films, a fixed sample of 2,000 is asked.

Judged scores are added when there are judgments: the ones curators stored (on the similar page
or with `import_judgments`), or with `--judgments` a file's graded pairs
(`query_tmdb_id,relevant_tmdb_id,grade[,kind]`, grades 0-2) instead, read without storing them.
Each film judged with a relevant film (grade >= 1) is asked, and the scores are the share of its
relevant films in its top 10 (out of at most 10) and the top 10's nDCG. The table's first line
says which judgments were used. The code is `embeddings.quality`, the same the quality panel of
the settings and storage pages runs.

`--prior-weight` sets the popularity prior every blend adds (`embeddings.neighbours.prior`;
default: the product's, 0 turns it off); each blend's result names the weight it ran with.
"""

from __future__ import annotations

import json
from argparse import ArgumentTypeError
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from catalog.collections import CollectionsFileError, catalog_collections, read_collections
from embeddings import quality
from embeddings.models.curation import stored_judgments
from embeddings.neighbours.blends import BLENDS
from embeddings.neighbours.prior import DEFAULT_PRIOR_WEIGHT, MAX_PRIOR_WEIGHT
from embeddings.quality.judged import Judged, JudgmentsFileError, parse_judgments
from reclio_admin.commands import DatabaseCommand

# Bad lines named in the error before "and N more".
SHOWN_BAD_LINES = 20


def evaluate(
    model_key: str,
    collection_of: dict[int, str],
    blend: str,
    judgments: Sequence[Judged],
    prior_weight: float = DEFAULT_PRIOR_WEIGHT,
) -> dict[str, Any]:
    """One model and blend: the franchise scores, and the judged ones when judgments are given."""
    try:
        found = quality.franchise_score(
            model_key, collection_of, blend=blend, prior_weight=prior_weight
        ).as_dict()
        if judgments:
            found |= quality.judged_score(
                model_key, judgments, blend=blend, prior_weight=prior_weight
            ).as_dict()
    except quality.NoVectors as exc:
        raise CommandError(str(exc)) from None
    return found | {"prior_weight": prior_weight}


def prior_weight(text: str) -> float:
    """A prior weight from the command line: a number from 0 to MAX_PRIOR_WEIGHT."""
    try:
        value = float(text)
    except ValueError:
        raise ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= MAX_PRIOR_WEIGHT:
        raise ArgumentTypeError(f"{text} is not between 0 and {MAX_PRIOR_WEIGHT:g}")
    return value


def read_judgments(path: Path) -> list[Judged]:
    """Every row of the file, or an error naming its bad lines: scores over part of a file
    would look like scores over all of it."""
    try:
        rows, bad = parse_judgments(path)
    except JudgmentsFileError as exc:
        raise CommandError(str(exc)) from None
    if bad:
        named = "; ".join(str(b) for b in bad[:SHOWN_BAD_LINES])
        more = f"; and {len(bad) - SHOWN_BAD_LINES} more" if len(bad) > SHOWN_BAD_LINES else ""
        raise CommandError(f"{path} has {len(bad)} bad line(s): {named}{more}")
    if not rows:
        raise CommandError(f"{path} holds no judgments")
    return rows


def judgments_to_use(path: Path | None) -> tuple[list[Judged], str]:
    """The file's judgments when one is named, else the stored ones; with a line saying which."""
    if path is not None:
        rows = read_judgments(path)
        return rows, f"Judgments: {len(rows):,} from {path} (not stored)"
    stored = stored_judgments()
    if not stored:
        return [], "Judgments: none stored (franchise scores only)"
    return stored, f"Judgments: the {len(stored):,} stored (judged on the similar page or imported)"


class Command(DatabaseCommand):
    help = (
        "recall@10 and hit@10 of franchise siblings among each film's neighbours, and judged "
        "recall@10 and nDCG@10 of the stored judgments (or a file's), per model and blend."
    )

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
        parser.add_argument(
            "--judgments",
            type=Path,
            help="CSV with query_tmdb_id,relevant_tmdb_id,grade[,kind], evaluated without storing "
            "(default: the judgments curators stored)",
        )
        parser.add_argument(
            "--prior-weight",
            type=prior_weight,
            default=DEFAULT_PRIOR_WEIGHT,
            help=f"popularity prior added to every blend (default {DEFAULT_PRIOR_WEIGHT:g}; 0: off)",
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
        judgments, source = judgments_to_use(options["judgments"])
        keys = [options["model"]] if options["model"] else quality.stored_model_keys()
        if not keys:
            raise CommandError("no vectors are stored yet: embed the catalog first")
        blends = [options["blend"]] if options["blend"] else list(BLENDS)
        results = {
            key: {
                blend: evaluate(key, collection_of, blend, judgments, options["prior_weight"])
                for blend in blends
            }
            for key in keys
        }
        if options["json"]:
            self.stdout.write(json.dumps(results))
            return
        self.stdout.write(source)
        self._table(results, judged=bool(judgments))

    def _table(self, results: dict[str, dict[str, dict[str, Any]]], *, judged: bool) -> None:
        extra = f" {'judged':>7} {'j.recall':>9} {'nDCG@10':>8}" if judged else ""
        self.stdout.write(
            f"{'model':<40} {'blend':<8} {'queries':>8} {'recall@10':>10} {'hit@10':>8}{extra}"
        )
        for key, by_blend in results.items():
            for blend, r in by_blend.items():
                extra = (
                    f" {r['judged_queries']:>7} {r['judged_recall_at_10']:>9.3f} "
                    f"{r['judged_ndcg_at_10']:>8.3f}"
                    if judged
                    else ""
                )
                self.stdout.write(
                    f"{key:<40} {blend:<8} {r['queries']:>8} {r['recall_at_10']:>10.3f} "
                    f"{r['hit_at_10']:>8.3f}{extra}"
                )
