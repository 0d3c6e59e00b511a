"""A big job into an empty table loads without the table's HNSW index, and the index is built
once at the end, many times faster than growing it per row; a job that ends, however it ends
(its worker killed too), leaves its table indexed again. What no stop could mend (the database
went away mid-load, a bench killed during its COPY) the watchdog and the start-up mend: a table
without its index and without a running job is indexed again."""

from __future__ import annotations

import logging

from django.conf import settings

from embeddings.models import (
    EMBEDDING_TABLES,
    EmbeddingBase,
    EmbeddingJob,
    drop_hnsw_index,
    ensure_hnsw_index,
    has_hnsw_index,
)
from embeddings.registry import UnknownModel, resolve

# One logger name for every line about jobs, whichever module of the package writes it.
logger = logging.getLogger("embeddings.jobs")


def begin_bulk_load(table: type[EmbeddingBase], pending: int) -> None:
    """Nothing is served from an empty table: fill it without its index when the job is big."""
    if pending >= settings.JOB_BULK_LOAD_MIN_ITEMS and not table.objects.exists():
        drop_hnsw_index(table)


def restore_index(job_id: int) -> None:
    """The job's table indexed again. A key that no longer resolves (a local model's folder
    removed meanwhile) names no table: every table missing its index gets it back."""
    key = EmbeddingJob.objects.values_list("model_key", flat=True).get(pk=job_id)
    for table in _tables(key, unknown=list(EMBEDDING_TABLES.values())):
        ensure_hnsw_index(table)


def restore_missing_indexes() -> list[str]:
    """Build the HNSW index of every table that lacks it, except the tables running jobs are
    filling without it (their workers build it when the job ends); returns the tables indexed
    again, each logged. The caller records dead workers' jobs first, so every job still running
    has a live worker."""
    running = EmbeddingJob.objects.filter(status__in=EmbeddingJob.BEATING_STATUSES)
    loading = {
        table
        for key in running.values_list("model_key", flat=True).distinct()
        for table in _tables(key, unknown=[])
    }
    rebuilt = []
    for table in EMBEDDING_TABLES.values():
        if table in loading or has_hnsw_index(table):
            continue
        if ensure_hnsw_index(table):
            name = table._meta.db_table
            logger.warning(
                "Rebuilt the missing HNSW index of %s", name, extra={"event": "hnsw_index_rebuilt"}
            )
            rebuilt.append(name)
    return rebuilt


def _tables(key: str, *, unknown: list[type[EmbeddingBase]]) -> list[type[EmbeddingBase]]:
    """The table of a model key; `unknown` for a key that no longer resolves."""
    try:
        return [resolve(key).table]
    except UnknownModel:
        return unknown
