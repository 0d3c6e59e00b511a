"""Vector search: the rows of one model nearest to a vector, through the HNSW graph or exactly.

Several models share a dimension table, so a neighbour query filters on `model_key` (and on
the item's kind, year and genre). A plain HNSW scan stops after `hnsw.ef_search` candidates and
the filter then throws most of them away, returning fewer than k rows; pgvector 0.8's iterative
scan keeps walking the graph until k rows pass the filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from catalog.models import CatalogItem
from embeddings.models import EmbeddingBase
from embeddings.neighbours.filters import NO_FILTERS, Filters

MAX_K = 100  # the most neighbours a page or the JSON shows
# The most a blend is asked for: a page of MAX_K, plus as many as its item's pins and hides take
# out of the list (`Curated.asking`), so a full page still shows MAX_K.
MAX_ASK = 3 * MAX_K
METRIC_LABELS = {"cosine": "cosine similarity", "l2": "L2 distance", "ip": "inner product"}

# How far an iterative scan may walk before it gives up on a very selective filter.
MAX_SCAN_TUPLES = 50_000


@dataclass(frozen=True)
class Neighbour:
    item: CatalogItem
    distance: float
    metric: str = "cosine"

    @property
    def score(self) -> float:
        """What the page shows: similarity for cosine and inner product, distance for L2."""
        if self.metric == "cosine":
            return 1.0 - self.distance
        if self.metric == "ip":
            return -self.distance
        return self.distance


def vector_neighbours(
    table: type[EmbeddingBase],
    model_key: str,
    vector: Any,
    *,
    k: int = 10,
    metric: str = "cosine",
    filters: Filters = NO_FILTERS,
) -> list[Neighbour]:
    """The k items closest to `vector` (floats, or an expression such as
    `StoredVector.embedding`) among this model's rows that pass the filters.

    1. Narrow the model's rows by the filters (a join to the catalog for kind, year and genre).
    2. Cosine: walk the HNSW graph with pgvector's iterative scan, so a selective filter, or
       other models crowding the same table, still yields k rows. L2 and inner product have no
       index and read the model's rows exactly.
    3. If the walk gave up before k rows, read exactly.
    """
    # The neighbours' own vectors are not shown; parsing them would cost more than the search.
    rows = _candidates(table, model_key, filters)
    rows = rows.select_related("item").defer("embedding")
    found = nearest_rows(rows, vector, _bounded(k), metric, ef_search=ef_search_for(table))
    return [Neighbour(row.item, row.distance, metric) for row in found]


def vector_neighbour_ids(
    table: type[EmbeddingBase],
    model_key: str,
    vector: Any,
    *,
    k: int = 10,
    filters: Filters = NO_FILTERS,
) -> list[tuple[int, float]]:
    """(item id, cosine similarity) of the k nearest, as `vector_neighbours` finds them, without
    reading the catalog rows: for callers that weigh many candidates and keep a few."""
    rows = _candidates(table, model_key, filters).only("item_id")
    found = nearest_rows(rows, vector, _bounded(k), ef_search=ef_search_for(table))
    return [(row.item_id, 1.0 - row.distance) for row in found]


def _candidates(table: type[EmbeddingBase], model_key: str, filters: Filters) -> Any:
    """This model's rows whose items pass the filters (a join to the catalog for kind, year and
    genre)."""
    return table.objects.for_model(model_key).filter(filters.as_q())


def _bounded(k: int) -> int:
    return max(1, min(k, MAX_ASK))


def ef_search_for(table: type[EmbeddingBase]) -> int:
    """Candidates the HNSW walk keeps on this table (`HNSW_EF_SEARCH`): pgvector's default (40)
    gives a recall@10 well under 0.95 on large sets; each table's value is the one measured to
    keep it above while a query stays fast."""
    ef_search: int = settings.HNSW_EF_SEARCH[table.dimensions]
    return ef_search


def nearest_rows(
    rows: Any, vector: Any, k: int, metric: str = "cosine", *, ef_search: int
) -> list[Any]:
    """The k rows nearest to `vector` (a QuerySet with `nearest()`), closest first: the HNSW
    walk for cosine, then an exact read if the walk gave up (max_scan_tuples) before k rows
    passed a very selective filter."""
    config = graph_settings(k, ef_search) if metric == "cosine" else NO_JIT
    found = _ordered(rows, vector, k, metric, config)
    if len(found) < k and metric == "cosine":
        found = exact_rows(rows, vector, k, metric)
    return found


def exact_rows(rows: Any, vector: Any, k: int, metric: str = "cosine") -> list[Any]:
    """The k rows nearest to `vector`, read exactly (no index). Sorting is named on: inside a
    caller's transaction the walk's SET LOCAL turned it off, and with both plans disabled
    PostgreSQL would walk the graph again."""
    exact = {**NO_JIT, "enable_indexscan": "off", "enable_sort": "on"}
    return _ordered(rows, vector, k, metric, exact)


# JIT compilation costs ~25 ms and saves nothing on a query that stops after k rows.
NO_JIT = {"jit": "off"}


def graph_settings(k: int, ef_search: int) -> dict[str, str]:
    """Walk the HNSW graph, iteratively, so filters still yield k rows. Sorting is off because
    PostgreSQL prices the walk too high: on 10,000 films it would rather read and sort every row
    (40 ms) than walk the graph (2 ms)."""
    return {
        **NO_JIT,
        "hnsw.iterative_scan": "relaxed_order",
        "hnsw.ef_search": str(max(ef_search, 2 * k)),
        "hnsw.max_scan_tuples": str(MAX_SCAN_TUPLES),
        "enable_sort": "off",
    }


def _ordered(rows: Any, vector: Any, k: int, metric: str, config: dict[str, str]) -> list[Any]:
    """The k nearest rows under these planner settings, local to one transaction, sorted by the
    exact distance (a relaxed-order scan may return them slightly out of order)."""
    calls = ", ".join("set_config(%s, %s, true)" for _ in config)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT {calls}", [value for pair in config.items() for value in pair])
        found = list(rows.nearest(vector, k=k, metric=metric))
    return sorted(found, key=lambda row: row.distance)


def exact_neighbour_ids(
    table: type[EmbeddingBase],
    model_key: str,
    vector: Any,
    *,
    k: int = 10,
    filters: Filters = NO_FILTERS,
) -> list[int]:
    """The true top k by cosine, with index scans off: the yardstick for recall."""
    rows = _candidates(table, model_key, filters)
    with transaction.atomic(), connection.cursor() as cursor:
        # Every planner setting the graph walk changes is named here: inside a caller's
        # transaction its SET LOCALs (no sorting, no JIT) would still be in force.
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_seqscan = on")
        cursor.execute("SET LOCAL enable_sort = on")
        return list(rows.nearest(vector, k=k).values_list("item_id", flat=True))
