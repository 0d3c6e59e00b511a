"""A big job into an empty table loads without the table's HNSW index, and the index is built
once at the end, many times faster than growing it per row; a job that ends, however it ends
(its worker killed too), leaves its table indexed again."""

from __future__ import annotations

from django.conf import settings

from embeddings.models import (
    EMBEDDING_TABLES,
    EmbeddingBase,
    EmbeddingJob,
    drop_hnsw_index,
    ensure_hnsw_index,
)
from embeddings.registry import UnknownModel, resolve


def begin_bulk_load(table: type[EmbeddingBase], pending: int) -> None:
    """Nothing is served from an empty table: fill it without its index when the job is big."""
    if pending >= settings.JOB_BULK_LOAD_MIN_ITEMS and not table.objects.exists():
        drop_hnsw_index(table)


def restore_index(job_id: int) -> None:
    """The job's table indexed again. A key that no longer resolves (a local model's folder
    removed meanwhile) names no table: every table missing its index gets it back."""
    key = EmbeddingJob.objects.values_list("model_key", flat=True).get(pk=job_id)
    try:
        tables = [resolve(key).table]
    except UnknownModel:
        tables = list(EMBEDDING_TABLES.values())
    for table in tables:
        ensure_hnsw_index(table)
