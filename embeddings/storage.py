"""What the vectors cover and cost: coverage per model and kind, and sizes per table."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count

from catalog.models import CatalogItem
from embeddings.jobs.stale import Backlog, backlog
from embeddings.models import EMBEDDING_TABLES, EmbeddingJob, EmbeddingSettings, RowTally
from embeddings.registry import ResolvedModel, UnknownModel, resolve, storage_type, vector_bytes


@dataclass(frozen=True)
class Coverage:
    covered: int
    total: int

    @property
    def complete(self) -> bool:
        return self.total > 0 and self.covered >= self.total

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / self.total if self.total else 0.0


def coverage(model: ResolvedModel) -> dict[str, Coverage]:
    """Rows of this model per kind, against the catalog's items of that kind."""
    totals = dict(CatalogItem.objects.values_list("kind").annotate(n=Count("id")).order_by())
    covered = dict(
        model.table.objects.for_model(model.key)
        .values_list("item__kind")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {
        kind: Coverage(covered.get(kind, 0), totals.get(kind, 0))
        for kind in CatalogItem.Kind.values
    }


def total_coverage(model: ResolvedModel) -> Coverage:
    """The model's rows against the catalog's items, both from the row tally (no count of a
    million rows): a row's item always exists (deleting one deletes its rows), and there is one
    row per item and model."""
    return Coverage(RowTally.count(model.table, model.key), RowTally.count(CatalogItem))


def set_coverage(model_key: str) -> Coverage | None:
    """Coverage of a model's set, or None for a key the registry no longer knows."""
    try:
        return total_coverage(resolve(model_key))
    except UnknownModel:
        return None


def set_exists(model: ResolvedModel) -> bool:
    """Whether any vectors of this model are still stored."""
    return model.table.objects.for_model(model.key).exists()


def stored_set_exists(model_key: str) -> bool:
    """`set_exists` for a key read back from the settings, which the registry may no longer know."""
    try:
        return set_exists(resolve(model_key))
    except UnknownModel:
        return False


@dataclass(frozen=True)
class TableUsage:
    dimensions: int
    table: str
    storage_type: str  # vector or halfvec
    rows: int
    table_bytes: int  # heap and TOAST
    index_bytes: int
    total_bytes: int  # pg_total_relation_size: table, TOAST and every index


@dataclass(frozen=True)
class ModelUsage:
    model_key: str
    dimensions: int
    rows: int
    movies: Coverage
    series: Coverage
    stale: int
    is_active: bool = False
    is_building: bool = False

    @property
    def bytes_per_vector(self) -> int:
        """What one stored vector takes: its numbers plus an 8-byte header."""
        return vector_bytes(self.dimensions) + 8

    @property
    def deletable(self) -> bool:
        return not (self.is_active or self.is_building)


def table_usage() -> list[TableUsage]:
    """Rows and on-disk sizes of every embedding table, smallest dimension first."""
    usage = []
    with connection.cursor() as cursor:
        for dimensions, model in sorted(EMBEDDING_TABLES.items()):
            table = model._meta.db_table
            cursor.execute(
                "SELECT pg_table_size(%s), pg_indexes_size(%s), pg_total_relation_size(%s)",
                [table, table, table],
            )
            table_bytes, index_bytes, total_bytes = cursor.fetchone()
            rows = row_count(table)
            usage.append(
                TableUsage(
                    dimensions, table, storage_type(dimensions), rows,
                    table_bytes, index_bytes, total_bytes,
                )
            )  # fmt: skip
    return usage


def database_bytes() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        return int(cursor.fetchone()[0])


# Past this many rows, a table is counted from the planner's estimate (pg_class.reltuples,
# which autovacuum keeps current) and the per-model join below is kept for a minute, instead of
# reading every row on every view of the storage page.
BIG_TABLE_ROWS = 50_000
USAGE_CACHE_KEY = "reclio:model-usage"
USAGE_CACHE_SECONDS = 60


def estimated_rows(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def row_count(table: str) -> int:
    """Exact on a small table, the planner's estimate on a big one."""
    estimate = estimated_rows(table)
    if estimate >= BIG_TABLE_ROWS:
        return estimate
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")
        return int(cursor.fetchone()[0])


def model_usage() -> list[ModelUsage]:
    """Per model: rows, coverage of movies and series, and stale rows, in one query that joins
    every table's `source_hash` with the catalog's `text_hash` (a minute old at most on a big
    catalog)."""
    if estimated_rows(CatalogItem._meta.db_table) >= BIG_TABLE_ROWS:
        found, totals = cache.get_or_set(USAGE_CACHE_KEY, _count_usage, USAGE_CACHE_SECONDS) or (
            _count_usage()
        )
    else:
        found, totals = _count_usage()
    config = EmbeddingSettings.load()
    active, building = config.active_key, config.building_key
    return [
        ModelUsage(
            model_key=key,
            dimensions=dims,
            rows=rows,
            movies=Coverage(movies, totals.get("movie", 0)),
            series=Coverage(series, totals.get("series", 0)),
            stale=stale,
            is_active=key == active,
            is_building=key == building,
        )
        for dims, key, rows, movies, series, stale in found
    ]


def _count_usage() -> tuple[list[tuple[int, str, int, int, int, int]], dict[str, int]]:
    branches = " UNION ALL ".join(
        f"SELECT {dims:d} AS dims, item_id, model_key, source_hash FROM {model._meta.db_table}"
        for dims, model in sorted(EMBEDDING_TABLES.items())
    )
    sql = f"""
        SELECT e.dims, e.model_key, count(*),
               count(*) FILTER (WHERE i.kind = 'movie'),
               count(*) FILTER (WHERE i.kind = 'series'),
               count(*) FILTER (WHERE i.text_hash IS DISTINCT FROM e.source_hash)
        FROM ({branches}) e
        JOIN catalog_catalogitem i ON i.id = e.item_id
        GROUP BY e.dims, e.model_key
        ORDER BY e.dims, e.model_key
    """
    with connection.cursor() as cursor:
        cursor.execute(sql)
        found = cursor.fetchall()
    totals = dict(CatalogItem.objects.values_list("kind").annotate(n=Count("id")).order_by())
    return found, totals


def set_backlog(model: ResolvedModel) -> dict[str, Backlog]:
    """What the model's set lacks, per kind: missing items and items whose text changed since
    their vector. On a big catalog the count is kept a minute, or until the catalog changes."""
    if estimated_rows(CatalogItem._meta.db_table) < BIG_TABLE_ROWS:
        return backlog(CatalogItem.objects.all(), model.table, model.key)
    cache_key = f"reclio:backlog:{model.key}:{CatalogItem.objects.last_change()}"
    found: dict[str, Backlog] | None = cache.get(cache_key)
    if found is None:
        found = backlog(CatalogItem.objects.all(), model.table, model.key)
        cache.set(cache_key, found, USAGE_CACHE_SECONDS)
    return found


def delete_model_set(model_key: str) -> int:
    """Delete every vector of a model that neither serves nor is being built; return the count.

    Raises ProtectedModel for the active model, the one being built, and any model a job is
    still writing (its worker would write the rows again and count them twice)."""
    with transaction.atomic():
        config = EmbeddingSettings.locked()
        writing = list(
            EmbeddingJob.objects.filter(
                model_key=model_key, status__in=EmbeddingJob.ACTIVE_STATUSES
            ).values_list("pk", flat=True)
        )
        if writing:
            numbers = ", ".join(f"#{pk}" for pk in writing)
            raise ProtectedModel(
                f"job {numbers} is writing {model_key}'s vectors: cancel it on the jobs page, "
                "or let it finish, then delete"
            )
        if model_key == config.active_key:
            raise ProtectedModel(
                f"{model_key} is the active model: switch to another one before deleting its vectors"
            )
        if model_key == config.building_key:
            raise ProtectedModel(
                f"{model_key} is being built: cancel its jobs and choose another model first"
            )
        deleted = sum(
            table.objects.for_model(model_key).delete()[0] for table in EMBEDDING_TABLES.values()
        )
        # This process shows the deletion at once; once committed, so that no page in between
        # caches the rows again (a caller may hold a longer transaction, to log the deletion).
        transaction.on_commit(lambda: cache.delete(USAGE_CACHE_KEY))
    return deleted


class ProtectedModel(Exception):
    """A model set that must not be deleted, with the reason for a person to read."""
