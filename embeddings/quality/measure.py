"""How good a model's neighbours are on this catalog, measured in the product.

The catalog's own collections (franchises) are the ground truth: films of one collection should
find each other. For every film of a collection with at least two members embedded by the
model (at most MAX_QUERIES of them on a large catalog, drawn with a fixed seed), the top 10 of
the similar page's query (same kind, the film itself left out) is compared with its siblings:
recall@10 is the share of siblings found, out of at most 10; hit@10 whether any is there. The
vector blend's top 10s are the page's index walks, a statement per 200 queries; the lexical and
hybrid blends' are ranked for every query at once, exactly (ranking.py).

Curators' judgments (the ones stored from the similar page and `import_judgments`, unless a
caller brings others), when there are any, are scored on top 10s ranked the same way: recall@10
and nDCG@10 of the films judged relevant (judged.py).

The index recall@10 is the share of the exact top 10 (a full scan) that the HNSW walk finds,
over INDEX_SAMPLE items: what the index gives up for its speed.

A measurement is a `QualityRun` (with one `QualityScore` per blend), computed by a django-q2
task after a job completes or when someone asks.
"""

from __future__ import annotations

import logging
import random
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Prefetch, Subquery
from django.utils import timezone
from django_q.tasks import async_task

from catalog.collections import catalog_collections
from catalog.models import CatalogItem
from embeddings.models import (
    EMBEDDING_TABLES,
    EmbeddingBase,
    QualityRun,
    QualityScore,
    RowTally,
    RunStatus,
)
from embeddings.models.curation import stored_judgments
from embeddings.neighbours import blends
from embeddings.neighbours.filters import Filters
from embeddings.neighbours.prior import DEFAULT_PRIOR_WEIGHT
from embeddings.neighbours.stored import resolve_stored
from embeddings.neighbours.vector import (
    ef_search_for,
    exact_neighbour_ids,
    graph_settings,
    vector_neighbours,
)
from embeddings.quality.judged import Judged, JudgedScore, averaged, judged_items
from embeddings.quality.ranking import Signals, top_ids
from embeddings.registry import ResolvedModel, stored_set

logger = logging.getLogger(__name__)

K = 10
MAX_QUERIES = 2000
INDEX_SAMPLE = 100
# Any fixed number: the same films are asked every time, so two measurements compare.
SEED = 10
BLENDS = blends.BLENDS
# The task that measures, then tries the cut-over the measurement may be holding.
MEASURE_TASK = "embeddings.tasks.measure_then_cut_over"
# Items whose top 10 one statement of index walks reads.
BATCH_QUERIES = 200
# Keys of the synthetic sets `bench_similar` makes: not models anyone serves.
SYNTHETIC_PREFIX = "bench:"


class NoVectors(Exception):
    """The model has no stored vectors to measure."""


@dataclass(frozen=True)
class BlendScore:
    queries: int
    recall_at_10: float
    hit_at_10: float

    def as_dict(self) -> dict[str, int | float]:
        return {
            "queries": self.queries,
            "recall_at_10": round(self.recall_at_10, 4),
            "hit_at_10": round(self.hit_at_10, 4),
        }


def stored_model_keys() -> list[str]:
    """Every model with vectors stored (synthetic benchmark sets left out)."""
    keys: set[str] = set()
    for table in EMBEDDING_TABLES.values():
        keys.update(table.objects.values_list("model_key", flat=True).distinct())
    return sorted(key for key in keys if not key.startswith(SYNTHETIC_PREFIX))


def measured_model(model_key: str) -> ResolvedModel:
    """The model whose stored vectors are measured; NoVectors when none is stored anywhere."""
    model = resolve_stored(model_key)
    if model is None:
        raise NoVectors(f"no vectors are stored for {model_key}")
    return model


def vector_table(model_key: str) -> type[EmbeddingBase]:
    """The table holding this model's vectors; NoVectors when none is stored anywhere."""
    return measured_model(model_key).table


def _stored_vector(table: type[EmbeddingBase], model_key: str, item_id: int) -> Subquery:
    """The item's vector as a subquery: read once by PostgreSQL, never sent through Python."""
    row = table.objects.for_model(model_key).filter(item_id=item_id)
    return Subquery(row.values("embedding")[:1])


# --- Each item's top 10 -------------------------------------------------------------------------


def page_top_ids(
    table: type[EmbeddingBase],
    model_key: str,
    blend: str,
    item: int,
    kind: str,
    *,
    prior_weight: float = DEFAULT_PRIOR_WEIGHT,
) -> list[int]:
    """The top 10 the similar page shows for this item with this blend, as item ids, through
    the page's own query: one item at a time (`blend_top_ids` ranks many at once)."""
    model = stored_set(model_key, table.dimensions)
    catalog_item = CatalogItem.objects.get(pk=item)
    ranked = blends.blended_neighbours(
        catalog_item, model, blend=blend, k=K, prior_weight=prior_weight,
        filters=Filters(kind=kind),
    )  # fmt: skip
    return [r.item.pk for r in ranked]


def vector_top_ids(
    table: type[EmbeddingBase], model_key: str, item_ids: Sequence[int]
) -> dict[int, list[int]]:
    """The vector blend's top 10 for many items at once: the similar page's query (same kind,
    the item left out, the HNSW walk under the page's settings), one statement per chunk
    instead of a round trip per item. A list the walk left short is read the page's way."""
    found: dict[int, list[int]] = {}
    config = graph_settings(K, ef_search_for(table))
    calls = ", ".join("set_config(%s, %s, true)" for _ in config)
    sql = f"""
        SELECT q.item_id, ARRAY(
            SELECT s.item_id FROM (
                SELECT n.item_id, n.embedding <=> q.embedding AS distance
                FROM {table._meta.db_table} n
                JOIN {CatalogItem._meta.db_table} c ON c.id = n.item_id
                WHERE n.model_key = %s AND c.kind = qi.kind AND n.item_id <> q.item_id
                ORDER BY n.embedding <=> q.embedding LIMIT {K:d}
            ) s ORDER BY s.distance, s.item_id)
        FROM {table._meta.db_table} q JOIN {CatalogItem._meta.db_table} qi ON qi.id = q.item_id
        WHERE q.model_key = %s AND q.item_id = ANY(%s)
    """
    for start in range(0, len(item_ids), BATCH_QUERIES):
        chunk = list(item_ids[start : start + BATCH_QUERIES])
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT {calls}", [v for pair in config.items() for v in pair])
            cursor.execute(sql, [model_key, model_key, chunk])
            found |= {item_id: list(ids) for item_id, ids in cursor.fetchall()}
    kinds = dict(CatalogItem.objects.filter(pk__in=item_ids).values_list("pk", "kind"))
    for item_id, ids in found.items():
        if len(ids) < K:
            found[item_id] = page_top_ids(
                table, model_key, "vector", item_id, kinds[item_id], prior_weight=0.0
            )
    return found


def blend_top_ids(
    table: type[EmbeddingBase],
    model_key: str,
    blend: str,
    item_ids: Sequence[int],
    *,
    prior_weight: float = DEFAULT_PRIOR_WEIGHT,
) -> dict[int, list[int]]:
    """Each item's top 10 under a blend, as the quality panel ranks them: the vector blend
    without a prior through the index, as the page serves it (what the walk gives up is the
    index check's); the others exactly, for all items at once (ranking.py: the page's scores
    and order; the page fuses each signal's 50 best, which measured the same)."""
    if blend == blends.VECTOR and not prior_weight:
        return vector_top_ids(table, model_key, item_ids)
    model = stored_set(model_key, table.dimensions)
    return top_ids(Signals.of(model, blend, prior_weight=prior_weight), item_ids, k=K)


# --- Scores -------------------------------------------------------------------------------------


def franchise_queries(
    table: type[EmbeddingBase],
    model_key: str,
    collection_of: dict[int, str],
    *,
    max_queries: int = MAX_QUERIES,
    seed: int = SEED,
) -> dict[int, frozenset[int]]:
    """The films to ask (at most `max_queries`, drawn with a fixed seed), each with its siblings.

    1. Group the catalog's films of each collection that have a vector for this model.
    2. Keep the groups of two or more: every member is a query, the others its siblings.
    3. On a large catalog, keep a fixed sample of the queries.
    """
    members: dict[str, set[int]] = defaultdict(set)
    films = CatalogItem.objects.movies().filter(tmdb_id__in=collection_of)
    embedded = set(
        table.objects.for_model(model_key).filter(item__in=films).values_list("item_id", flat=True)
    )
    for item_id, tmdb_id in films.filter(id__in=embedded).values_list("id", "tmdb_id"):
        members[collection_of[tmdb_id]].add(item_id)
    siblings = {
        item_id: frozenset(group - {item_id})
        for group in members.values()
        if len(group) >= 2
        for item_id in group
    }
    if len(siblings) > max_queries:
        chosen = random.Random(seed).sample(sorted(siblings), max_queries)
        siblings = {item_id: siblings[item_id] for item_id in sorted(chosen)}
    return siblings


def franchise_score(
    model_key: str,
    collection_of: dict[int, str],
    *,
    blend: str = "vector",
    prior_weight: float = DEFAULT_PRIOR_WEIGHT,
    max_queries: int = MAX_QUERIES,
    seed: int = SEED,
) -> BlendScore:
    """recall@10 and hit@10 of franchise siblings among each query film's top 10."""
    table = vector_table(model_key)
    queries = franchise_queries(table, model_key, collection_of, max_queries=max_queries, seed=seed)
    found = blend_top_ids(table, model_key, blend, list(queries), prior_weight=prior_weight)
    recall_sum, hits = 0.0, 0
    for item_id, siblings in queries.items():
        shared = len(siblings & set(found.get(item_id, ())))
        recall_sum += shared / min(len(siblings), K)
        hits += shared > 0
    n = len(queries)
    return BlendScore(n, recall_sum / n if n else 0.0, hits / n if n else 0.0)


def judged_score(
    model_key: str,
    judgments: Iterable[Judged],
    *,
    blend: str = "vector",
    prior_weight: float = DEFAULT_PRIOR_WEIGHT,
) -> JudgedScore:
    """recall@10 and nDCG@10 of the judged-relevant films among each judged film's top 10
    (judged.py: which films count, and how)."""
    table = vector_table(model_key)
    graded = judged_items(judgments, table, model_key)
    asked = [q for q, grades in graded.items() if max(grades.values()) >= 1]
    if not asked:  # nothing to rank: the lexical blends would still read every candidate
        return JudgedScore(0, 0.0, 0.0)
    return averaged(
        graded, blend_top_ids(table, model_key, blend, asked, prior_weight=prior_weight)
    )


def index_recall(
    model_key: str, *, sample: int = INDEX_SAMPLE, seed: int = SEED
) -> tuple[int, float]:
    """(items asked, recall@10 of the HNSW walk against an exact scan) over a fixed sample."""
    table = vector_table(model_key)
    ids = sorted(table.objects.for_model(model_key).values_list("item_id", flat=True))
    chosen = random.Random(seed).sample(ids, min(sample, len(ids)))
    found = 0
    expected = 0
    for item_id in chosen:
        vector = _stored_vector(table, model_key, item_id)
        others = Filters(exclude_item_id=item_id)
        exact = exact_neighbour_ids(table, model_key, vector, k=K, filters=others)
        walk = vector_neighbours(table, model_key, vector, k=K, filters=others)
        found += len(set(exact) & {n.item.pk for n in walk})
        expected += len(exact)
    return len(chosen), (found / expected if expected else 0.0)


# --- Measuring ----------------------------------------------------------------------------------


def measure(
    model_key: str,
    collection_of: dict[int, str] | None = None,
    judgments: Iterable[Judged] | None = None,
) -> QualityRun:
    """Measure a model now, in this process, and keep the result (with its date): on the
    catalog's collections and the stored judgments, unless others are given."""
    run = QualityRun.objects.create(model_key=model_key, status=RunStatus.RUNNING)
    return _measure_into(run, collection_of, judgments)


def run_measurement(run_id: int) -> QualityRun | None:
    """The background task's body: claim a queued run and fill it; None when another worker
    already took it."""
    with transaction.atomic():
        claimed = QualityRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
            status=RunStatus.RUNNING
        )
    if not claimed:
        return None
    return _measure_into(QualityRun.objects.get(pk=run_id), None, None)


def _measure_into(
    run: QualityRun, collection_of: dict[int, str] | None, judgments: Iterable[Judged] | None
) -> QualityRun:
    """1. Count the model's rows (a set that grows later needs measuring again).
    2. Score every blend on the collections and on the judgments (the stored ones when none
       are given), then the index against an exact scan.
    3. Keep it all, or the error that stopped it."""
    started = time.monotonic()
    try:
        judged = stored_judgments() if judgments is None else list(judgments)
        table = vector_table(run.model_key)
        run.vectors = table.objects.for_model(run.model_key).count()
        run.catalog_items = RowTally.count(CatalogItem)
        if not run.vectors:
            raise NoVectors(f"no vectors are stored for {run.model_key}")
        truth = catalog_collections() if collection_of is None else collection_of
        scores = [_blend_score(run, blend, truth, judged) for blend in BLENDS]
        run.index_queries, run.index_recall_at_10 = index_recall(run.model_key)
    except NoVectors as exc:
        run.status, run.error = RunStatus.FAILED, str(exc)
    except Exception as exc:
        logger.exception("Measuring the quality of %s failed", run.model_key)
        run.status, run.error = RunStatus.FAILED, f"{type(exc).__name__}: {exc}"
    else:
        QualityScore.objects.bulk_create(scores)
        run.status = RunStatus.DONE
    run.seconds = time.monotonic() - started
    run.finished_at = timezone.now()
    run.save()
    return run


def _blend_score(
    run: QualityRun, blend: str, truth: dict[int, str], judgments: list[Judged]
) -> QualityScore:
    """One blend's franchise scores, and its judged ones (none kept when nothing is judged)."""
    franchise = franchise_score(run.model_key, truth, blend=blend)
    found = judged_score(run.model_key, judgments, blend=blend)
    return QualityScore(run=run, blend=blend, **vars(franchise), **found.fields())


def measure_soon(model_key: str) -> QualityRun:
    """Queue a measurement of this model, unless one is queued already."""
    with transaction.atomic():
        run, created = QualityRun.objects.get_or_create(
            model_key=model_key, status=RunStatus.QUEUED
        )
        if created:
            # Same database, same transaction: the task is queued exactly when the run is.
            async_task(MEASURE_TASK, run.pk, task_name=f"quality of {model_key}"[:100])
    return run


# --- Reading the results ------------------------------------------------------------------------


def latest_runs(model_keys: Iterable[str] | None = None) -> dict[str, QualityRun]:
    """Each model's latest finished measurement (done or failed), scores prefetched."""
    runs = QualityRun.objects.filter(status__in=(RunStatus.DONE, RunStatus.FAILED))
    if model_keys is not None:
        runs = runs.filter(model_key__in=list(model_keys))
    latest = runs.order_by("model_key", "-finished_at", "-id").distinct("model_key")
    found = QualityRun.objects.filter(pk__in=latest.values("pk")).prefetch_related(
        Prefetch("scores", QualityScore.objects.order_by("blend"))
    )
    return {run.model_key: run for run in found}


def pending_keys(model_keys: Iterable[str] | None = None) -> set[str]:
    """Models with a measurement queued or under way."""
    runs = QualityRun.objects.filter(status__in=(RunStatus.QUEUED, RunStatus.RUNNING))
    if model_keys is not None:
        runs = runs.filter(model_key__in=list(model_keys))
    return set(runs.values_list("model_key", flat=True))
